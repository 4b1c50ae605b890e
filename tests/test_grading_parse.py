"""The safe parser on small inputs: what it builds, and what it refuses."""

import pytest

from reasoning.grading.latex import parse
from reasoning.grading.nodes import ParseError, render
from reasoning.grading.tokens import tokenize


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"\frac43", "4/3"),
        (r"\frac{270}7", "270/7"),
        (r"\frac\pi2", "pi/2"),
        (r"\sqrt2x", "sqrt(2)*x"),
        (r"\sqrt[3]{27}", "3"),
        (r"1\frac{4}{5}", "9/5"),
        (r"2\frac{x}{3}", "2*x/3"),
        (r"3\frac{5}{4}", "15/4"),
        ("2^10", "1024"),
        ("x^2y", "x**2*y"),
        ("-2^2", "-4"),
        ("2^-1", "1/2"),
        ("2^{3^2}", "512"),
        (r"\sin^2 x", "sin(x)**2"),
        (r"\sin 2x", "sin(2*x)"),
        (r"\cot x \tan x", "tan(x)*cot(x)"),
        ("ab", "a*b"),
        ("x_1 + x_{12}", "x_1 + x_12"),
        ("0.1", "1/10"),
        (r"0.1\overline{6}", "1/6"),
        ("6.72e-5", "21/312500"),
        ("(1,2]", "(1, 2]"),
        (r"\{1, 2\}", "{1, 2}"),
        ("1, 2", "1, 2"),
        ("x = 5", "x = 5"),
        (r"3 < x \le 4", "3 < x <= 4"),
        (r"(0,1) \cup (2,3)", "(0, 1) U (2, 3)"),
        (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", "Matrix([['1', '2'], ['3', '4']])"),
        ("|x-1|", "Abs(x - 1)"),
        ("2|x|", "2*Abs(x)"),
        (r"\lfloor 2.5 \rfloor", "2"),
        ("5!", "120"),
        (r"\binom{5}{2}", "10"),
        (r"\log_2 8", "3"),
        (r"e^{i\pi}", "-1"),
        (r"\mathbb{R}", "(-oo, oo)"),
        (r"\sinx", "sin(x)"),
        (r"\sinhx", "sinh(x)"),
        (r"2\pix", "2*pi*x"),
        (r"2\begin{pmatrix}1\\2\end{pmatrix}", "Matrix([['2'], ['4']])"),
        (r"\begin{pmatrix}1&2\end{pmatrix}\begin{pmatrix}3\\4\end{pmatrix}", "Matrix([['11']])"),
        (r"\mathbb{R} \setminus \{0\}", r"(-oo, oo) \ {0}"),
        ("y' + y''", "y' + y''"),
        (r"\dot{x}_0 - \dot{x_0} + \ddot{\theta}", r"\ddot{theta}"),
        (r"\hbar\omega", "hbar*omega"),
        (r"\angle ABC - \angle CBA + \angle A_1 E B", r"\angle A_1 E B"),
        (r"2[x+1]", "2*x + 2"),
        (r"M_{\odot} + m_\max", "M_odot + m_max"),
    ],
)
def test_parse_builds(text, expected):
    assert render(parse(text).node) == expected


def test_a_longer_latex_command_is_not_split_into_a_glued_one():
    assert tokenize(r"2 \cdots") == [("2", "num"), (r"\cdots", "cmd")]  # not \cdot followed by s
    assert tokenize(r"\ldots") == [(r"\ldots", "cmd")]


@pytest.mark.parametrize(
    "text",
    ["10 080", "52_8", "(1,2", r"\unknown{x}", "(3]", r"\frac{1}", "1 +", "9^{9^{9^9}}", "(1,2)+3", "1e400",
     "(x+1)'", "2'", r"\dot{2}", r"\ddot{(x+1)}", r"\angle", r"\angle 5", r"x_{\{}"],
)
def test_parse_refuses(text):
    with pytest.raises(ParseError):
        parse(text)


_IDENTITY_20 = r"\begin{pmatrix}" + r"\\".join(["&".join(["1"] * 20)] * 20) + r"\end{pmatrix}"


@pytest.mark.parametrize(
    "text",
    [
        r"\begin{pmatrix}1\\2\end{pmatrix} + 1",
        r"\begin{pmatrix}1&2\end{pmatrix}\begin{pmatrix}3&4\end{pmatrix}",
        r"\begin{pmatrix}1&2\end{pmatrix} + \begin{pmatrix}1\\2\end{pmatrix}",
        _IDENTITY_20 + _IDENTITY_20,
    ],
    ids=["matrix plus number", "mismatched product", "mismatched sum", "product too large"],
)
def test_matrix_arithmetic_refuses_mismatched_or_oversized_shapes(text):
    with pytest.raises(ParseError):
        parse(text)


def test_parse_records_how_the_answer_was_written():
    assert parse("0.5").inexact and not parse(r"\frac12").inexact
    assert not parse(r"0.\overline{3}").inexact
    assert parse("25%").percent and not parse("25").percent
    assert len(parse(r"1 \pm \sqrt{2}").plus_minus) == 1
