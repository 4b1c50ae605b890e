"""Tables for the grading tests (and `evals/bench_grading.py`): equivalences, extractions, hostile inputs.

Each equivalence row is (form, answer, reference, expected); a row reads as "the answer
`pred` to a problem whose reference is `gold` is / is not correct".
"""

EQUIVALENCES = [
    # integers
    ("integer", "42", "42", True),
    ("integer", "042", "42", True),
    ("integer", "-7", "-7", True),
    ("integer", "+7", "7", True),
    ("integer", "7", "-7", False),
    ("integer", "1000000", "1000001", False),
    ("integer", "12", "21", False),
    ("integer", "3.0", "3", True),
    # fractions
    ("fraction", r"\frac{3}{4}", "3/4", True),
    ("fraction", r"\dfrac{3}{4}", r"\frac34", True),
    ("fraction", r"\tfrac{6}{8}", r"\frac{3}{4}", True),
    ("fraction", r"\frac 59", r"\frac{5}{9}", True),
    ("fraction", r"\frac9{19}", "9/19", True),
    ("fraction", r"\frac{270}7", r"\frac{270}{7}", True),
    ("fraction", r"-\frac{35}{9}", r"\frac{-35}{9}", True),
    ("fraction", r"\frac{35}{9}", r"-\frac{35}{9}", False),
    ("fraction", r"\frac{4}{3}", r"\frac{3}{4}", False),
    ("fraction", r"\frac{2}{1005}", r"\frac{2}{1004}", False),
    # decimals
    ("decimal", "0.5", r"\frac{1}{2}", True),
    ("decimal", ".5", "0.5", True),
    ("decimal", "0.15", r"\frac{3}{20}", True),
    ("decimal", r"\frac{57}{160}", ".35625", True),
    ("decimal", "0.333", r"\frac{1}{3}", False),
    ("decimal", "0.33", r"\frac{1}{3}", False),
    ("decimal", "0.3333333333", r"\frac{1}{3}", True),
    ("decimal", "3.2", "3.21", False),
    ("decimal", "3.2100", "3.21", True),
    ("decimal", "18.9", r"\$18.90", True),
    ("decimal", r"0.\overline{3}", r"\frac{1}{3}", True),
    ("decimal", "4.5", r"\frac92", True),
    # mixed numbers
    ("mixed", r"1\frac{4}{5}", r"\frac{9}{5}", True),
    ("mixed", r"\frac{275}{2}", r"137 \frac{1}{2}", True),
    ("mixed", r"15\frac{39}{40}", r"\frac{639}{40}", True),
    ("mixed", r"2\frac12", "2.5", True),
    ("mixed", r"-1\frac{1}{2}", "-1.5", True),
    ("mixed", r"1\frac{4}{5}", r"\frac{4}{5}", False),
    # percent
    ("percent", r"25\%", "25", True),
    ("percent", "25%", "0.25", True),
    ("percent", "0.25", r"25\%", True),
    ("percent", r"50\%", r"25\%", False),
    ("percent", "30", r"25\%", False),
    # scientific notation
    ("scientific", r"6.72\times 10^{-5}", ".0000672", True),
    ("scientific", "6.72e-5", ".0000672", True),
    ("scientific", r"6.72 \cdot 10^{-5}", "0.0000672", True),
    ("scientific", r"1.2\times10^{3}", "1200", True),
    ("scientific", r"6.7\times 10^{-5}", ".0000672", False),
    ("scientific", r"6.72\times 10^{5}", ".0000672", False),
    # thousands separators
    ("thousands", "10080", r"10,\!080", True),
    ("thousands", "11111111100", r"11,\! 111,\! 111,\! 100", True),
    ("thousands", "58500", "58,500", True),
    ("thousands", "32,348", r"\$32,\!348", True),
    ("thousands", "1{,}000", "1000", True),
    ("thousands", "10,800", r"10,\!080", False),
    ("thousands", "1, 234", "1234", False),
    # sqrt and pi
    ("sqrt", r"2\sqrt{5}", r"\sqrt{20}", True),
    ("sqrt", r"11\sqrt2", r"11\sqrt{2}", True),
    ("sqrt", r"\frac{1}{\sqrt{3}}", r"\frac{\sqrt{3}}{3}", True),
    ("sqrt", r"\sqrt{3}/3", r"\frac{\sqrt3}{3}", True),
    ("sqrt", "sqrt(51)", r"\sqrt{51}", True),
    ("sqrt", r"\sqrt[3]{8}", "2", True),
    ("sqrt", r"\sqrt{2}+\sqrt{8}", r"3\sqrt{2}", True),
    ("sqrt", r"\sqrt{5}", r"2\sqrt{5}", False),
    ("sqrt", "0.57735", r"\frac{\sqrt{3}}{3}", False),
    ("sqrt", "0.57735026918962576", r"\frac{\sqrt{3}}{3}", True),
    ("pi", r"\frac{\pi}{2}", r"\pi/2", True),
    ("pi", r"288\pi", r"288 \pi", True),
    ("pi", r"2\pi+18", r"18+2\pi", True),
    ("pi", "3.14", r"\pi", False),
    ("pi", r"\frac{20000}{\pi}", r"\frac{20000}{\pi}", True),
    ("pi", r"20000\pi", r"\frac{20000}{\pi}", False),
    ("pi", "7π", r"7\pi", True),
    # complex numbers
    ("complex", "-5i+6", "6 - 5i", True),
    ("complex", "6+5i", "6 - 5i", False),
    ("complex", r"\frac{2+4i}{2}", "1+2i", True),
    # symbolic expressions and polynomials
    ("symbolic", "q - p", "p - q", False),
    ("symbolic", "-q + p", "p - q", True),
    ("symbolic", "2(k+1)", "2k+2", True),
    ("symbolic", "2n+2", "2k+2", False),
    ("symbolic", "(x-1)(x^4+x^2+1)", "x^5 - x^4 + x^3 - x^2 + x - 1", True),
    ("symbolic", "x^5 - x^4 + x^3 - x^2 + x + 1", "x^5 - x^4 + x^3 - x^2 + x - 1", False),
    ("symbolic", "ab+5b+2a+10", "(a+5)(b+2)", True),
    ("symbolic", "(a+5)(b+3)", "(a+5)(b+2)", False),
    ("symbolic", r"\frac{\cos x}{\sin x}", r"\cot x", True),
    ("symbolic", r"\tan x", r"\cot x", False),
    ("symbolic", r"\frac{9a+11}{20}", r"\frac{11+9a}{20}", True),
    ("symbolic", "6r^2-4r-24", "2(3r^2-2r-12)", True),
    ("symbolic", "3R^2", "3r^2", False),
    ("symbolic", r"\sin^2 x + \cos^2 x", "1", True),
    ("symbolic", "x^2", "x^3", False),
    ("symbolic", r"\sqrt{x^2}", "x", False),
    ("symbolic", r"\sin^{-1}(1/2)", r"\frac{\pi}{6}", True),
    ("symbolic", r"\log_2 8", "3", True),
    ("symbolic", r"e^{i\pi}", "-1", True),
    # equations
    ("equation", "5", "x=5", True),
    ("equation", "x=5", "5", True),
    ("equation", "x = 5", "x=-5", False),
    ("equation", "2x+1 = y", "y = 2x + 1", True),
    ("equation", "2x + 3", "y = 2x + 3", True),
    ("equation", "y = 2x - 3", "y = 2x + 3", False),
    ("equation", "2y = 4x + 6", "y = 2x + 3", True),
    ("equation", "-5x + 7y - 11z - 4 = 0", "5x - 7y + 11z + 4 = 0", True),
    ("equation", "5x - 7y + 11z = -4", "5x - 7y + 11z + 4 = 0", True),
    ("equation", "5x - 7y + 11z - 4 = 0", "5x - 7y + 11z + 4 = 0", False),
    ("equation", "y=-2x", "-2x", True),
    ("equation", "k = 2 + 3 = 5", "5", True),
    ("equation", "k = 6 = 5", "5", False),
    ("equation", "p(x) = x^3+3x-6", "x^3+3x-6", True),
    ("equation", "(x, y) = (1, 2)", "(1,2)", True),
    ("equation", "x^2+2x+1=0", "(x+1)^2=0", True),
    # plus-minus
    ("pm", r"1+\sqrt{19}, 1-\sqrt{19}", r"1 \pm \sqrt{19}", True),
    ("pm", r"1-\sqrt{19}, 1+\sqrt{19}", r"1 \pm \sqrt{19}", True),
    ("pm", r"1+\sqrt{19}", r"1 \pm \sqrt{19}", False),
    ("pm", r"3 \pm 2\sqrt{2}", r"3 \pm 2 \sqrt{2}", True),
    ("pm", r"x = 3 \pm \sqrt{8}", r"3 \pm 2 \sqrt{2}", True),
    ("pm", r"\{-2, 1+\sqrt{5}, 1-\sqrt{5}\}", r"\{1\pm\sqrt{5},-2\}", True),
    ("pm", r"\{1+\sqrt{5}, 1-\sqrt{5}\}", r"\{1\pm\sqrt{5},-2\}", False),
    ("pm", r"\pm 2", "2", False),
    # infinity
    ("infinity", r"\infty", "∞", True),
    ("infinity", "-\\infty", "\\infty", False),
    ("infinity", "inf", r"\infty", True),
    # degrees
    ("degrees", "90", r"90^\circ", True),
    ("degrees", r"90^{\circ}", r"90^\circ", True),
    ("degrees", "90°", "90", True),
    ("degrees", r"\frac{270}{7}^\circ", r"\frac{270}7\text{ degrees}", True),
    ("degrees", r"45^\circ", r"90^\circ", False),
    # units and \text
    ("units", "5.4", r"5.4 \text{ cents}", True),
    ("units", r"864 \text{ square inches}", r"864 \mbox{ inches}^2", True),
    ("units", "864 square inches", r"864 \mbox{ inches}^2", True),
    ("units", "15 cm^2", r"15\mbox{ cm}^2", True),
    ("units", r"\$36", "36", True),
    ("units", "36 dollars", r"\$36", True),
    ("units", "35 dollars", r"\$36", False),
    ("units", r"5.5 \text{ cents}", r"5.4 \text{ cents}", False),
    ("units", r"3.5\textnormal{ meters}", "3.5", True),
    ("units", "3.5meters", "3.5", True),
    ("units", r"12 \mbox{cm}", r"12\text{ centimeters}", True),
    ("units", r"5\text{ km}", "5 kilometers", True),
    ("units", r"2\text{ m}^2", r"2 \text{ square meters}", True),
    ("units", "5 km", "5 m", False),
    ("units", "5 km", r"5\text{ m}", False),
    ("units", "5 feet", "5 yards", False),
    ("units", r"864 \text{ square inches}", r"864 \text{ square feet}", False),
    ("units", r"10\text{ cm}^2", r"10\text{ cm}", False),
    # ordinals and word multipliers
    ("ordinal", r"5^{\text{th}} place", "5", True),
    ("ordinal", "21st", "21", True),
    ("ordinal", r"3^{rd}", "3", True),
    ("ordinal", r"100\text{th}", "100", True),
    ("ordinal", r"\text{12th}", "12", True),
    ("ordinal", r"5^{\text{th}} place", "6", False),
    ("ordinal", r"2^{nd}", "2^2", False),
    ("multiplier", r"3 \text{ thousand}", "3000", True),
    ("multiplier", "3 thousand", "3,000", True),
    ("multiplier", r"2.5\text{ million}", "2500000", True),
    ("multiplier", "3 thousand dollars", r"\$3000", True),
    ("multiplier", r"3 \text{ thousand}", "300", False),
    ("multiplier", r"1.5 \text{ billion}", "15000000000", False),
    # exact arithmetic written as the answer
    ("arithmetic", r"\frac{3}{4} - \frac{1}{8}", "5/8", True),
    ("arithmetic", r"\frac{1}{2} + \frac{1}{3}", r"\frac{5}{6}", True),
    ("arithmetic", r"\frac{2}{3} \cdot \frac{9}{4}", r"\frac32", True),
    ("arithmetic", r"\frac{1}{2} \times \frac{1}{3} + 1", r"\frac{7}{6}", True),
    ("arithmetic", r"\frac{1,000}{3}", r"\frac{1000}{3}", True),
    ("arithmetic", r"\sqrt{1,024}", "32", True),
    ("arithmetic", r"\frac{3}{4} - \frac{1}{8}", r"\frac{3}{4}", False),
    ("arithmetic", r"\frac{1}{2} + \frac{1}{3}", r"\frac{2}{5}", False),
    ("arithmetic", r"\frac{1,000}{3}", r"\frac{100}{3}", False),
    ("arithmetic", r"\{1,000\}", "1000", False),
    ("arithmetic", "0.3 + 0.03", r"\frac{1}{3}", False),
    # \left, \right and spacing
    ("spacing", r"\left( 3, \frac{\pi}{2} \right)", r"(3,\frac{\pi}{2})", True),
    ("spacing", r"3\,\sqrt{13}", r"3\sqrt{13}", True),
    ("spacing", r"\displaystyle\frac{3}{56}", r"\frac{3}{56}", True),
    ("spacing", r"\left[ \frac{\pi^2}{8}, \frac{5 \pi^2}{4} \right]", r"[\pi^2/8, 5\pi^2/4]", True),
    ("spacing", r"\left( 3, \frac{\pi}{3} \right)", r"\left( 3, \frac{\pi}{2} \right)", False),
    # tuples and ordered pairs
    ("tuple", "(6, 31, -1)", "(6,31,-1)", True),
    ("tuple", "(31, 6, -1)", "(6,31,-1)", False),
    ("tuple", r"\left(\frac32, -13\right)", r"\left( \frac{3}{2}, -13 \right)", True),
    ("tuple", "(1.5, -13)", r"\left( \frac{3}{2}, -13 \right)", True),
    ("tuple", "(1,-16,-4)", "(1,-16,-4,43)", False),
    ("tuple", "6, 31, -1", "(6,31,-1)", True),
    ("tuple", "(-2, 1)", "-2,1", False),
    ("tuple", r"\langle 15, -29 \rangle", "(15,-29)", True),
    # intervals and unions
    ("interval", "(3, 4]", "(3,4]", True),
    ("interval", "[3, 4]", "(3,4]", False),
    ("interval", "(3, 4)", "(3,4]", False),
    ("interval", r"3 < x \le 4", "(3,4]", True),
    ("interval", r"(2, \infty)", r"(2,\infty)", True),
    ("interval", "x > 2", r"(2,\infty)", True),
    ("interval", r"x \ge 2", r"(2,\infty)", False),
    ("interval", r"(-\infty, 0]", r"(-\infty, 0]", True),
    ("interval", r"x \leq 0", r"(-\infty, 0]", True),
    ("interval", "[-2, 7]", r"x \in [-2,7]", True),
    ("interval", r"-2 \le x \le 7", r"x \in [-2,7]", True),
    ("interval", r"(3, \infty) \cup (-\infty, 2)", r"(-\infty, 2) \cup (3, \infty)", True),
    ("interval", r"x < 2 \text{ or } x > 3", r"(-\infty, 2) \cup (3, \infty)", True),
    ("interval", r"(-\infty, 2] \cup (3, \infty)", r"(-\infty, 2) \cup (3, \infty)", False),
    ("interval", r"(0,9) \cup (9,36)", r"(0,9) \cup (9,36)", True),
    ("interval", "(0,36)", r"(0,9) \cup (9,36)", False),
    ("interval", r"\left(\frac{3}{5},\frac{8}{3}\right]", "(0.6, 8/3]", True),
    # relations that rearrange into each other, and stated values
    ("relation", r"2 - y \ge 0", r"y \le 2", True),
    ("relation", r"2 - y \ge 0", r"(-\infty, 2]", True),
    ("relation", r"3x + 6 > 0", r"x > -2", True),
    ("relation", r"-2x < 4", r"x > -2", True),
    ("relation", r"x + y \le 3", r"y \le 3 - x", True),
    ("relation", r"-1 \le t < 4", "[-1, 4)", True),
    ("relation", r"1 < 2x + 1 \le 9", "(0, 4]", True),
    ("relation", r"-3 \le -x \le 1", "[-1, 3]", True),
    ("relation", "BC = 7", "7", True),
    ("relation", r"2 - y \ge 0", r"y \ge 2", False),
    ("relation", r"-2x < 4", r"x < -2", False),
    ("relation", r"x + y < 3", r"y \le 3 - x", False),
    ("relation", r"-1 < t \le 4", "[-1, 4)", False),
    ("relation", "AB = 7", "8", False),
    ("relation", "x + y = 7", "7", False),
    ("relation", "2x = 7", "7", False),
    # set differences
    ("set-difference", r"\mathbb{R} \setminus \{0\}", r"(-\infty,0)\cup(0,\infty)", True),
    ("set-difference", r"\mathbb{R} \setminus \{1, -1\}", r"(-\infty,-1)\cup(-1,1)\cup(1,\infty)", True),
    ("set-difference", r"[0, 5] \setminus \{2\}", r"[0,2)\cup(2,5]", True),
    ("set-difference", r"\mathbb{R} \setminus [0, 1]", r"(-\infty,0)\cup(1,\infty)", True),
    ("set-difference", r"x \neq 3", r"(-\infty,3)\cup(3,\infty)", True),
    ("set-difference", r"\mathbb{R} - \{2\}", r"(-\infty,2)\cup(2,\infty)", True),
    ("set-difference", r"(-\infty, \infty) \backslash \{-1\}", r"(-\infty,-1)\cup(-1,\infty)", True),
    ("set-difference", r"\mathbb{R} \setminus \{0\}", r"(-\infty,0]\cup(0,\infty)", False),
    ("set-difference", r"\mathbb{R} \setminus \{1\}", r"(-\infty,0)\cup(0,\infty)", False),
    ("set-difference", r"\mathbb{R} \setminus (0, 1)", r"(-\infty,0)\cup(1,\infty)", False),
    ("set-difference", r"(1, 2) - \{1\}", "(1, 2)", True),
    ("set-difference", r"(1, 2) - (0, 1)", "(1, 1)", False),
    # commands that lost a brace or a space
    ("lost-brace", r"\sinx", r"\sin x", True),
    ("lost-brace", r"2\pix", r"2\pi x", True),
    ("lost-brace", r"\sqrtx", r"\sqrt{x}", True),
    ("lost-brace", r"\sinhx", r"\sinh x", True),
    ("lost-brace", r"\beginbmatrix 1 \\ 2 \endbmatrix", r"\begin{bmatrix}1\\2\end{bmatrix}", True),
    ("lost-brace", r"\cosx", r"\sin x", False),
    ("lost-brace", r"\sinhx", r"\sin hx", False),
    ("lost-brace", r"\beginpmatrix 1 & 2 \endpmatrix", r"\begin{pmatrix}1\\2\end{pmatrix}", False),
    # unordered sets and lists
    ("set", "-2, 1", "1,-2", True),
    ("set", r"\{1, -2\}", "1,-2", True),
    ("set", "1, 2", "1,-2", False),
    ("set", "1", "1,-2", False),
    ("set", "7, 5, 3", "3, 5, 7", True),
    ("set", "3, 5", "3, 5, 7", False),
    ("set", "3, 5, 7, 9", "3, 5, 7", False),
    ("set", r"x = 1 \text{ or } x = -2", "1,-2", True),
    ("set", "x=1, x=-2", "1,-2", True),
    ("set", r"\emptyset", r"\{\}", True),
    # matrices
    ("matrix", r"\begin{pmatrix} -1/3 \\ 2/3 \\ 5/3 \end{pmatrix}",
     r"\begin{pmatrix} -\frac13 \\ \frac23 \\ \frac53 \end{pmatrix}", True),
    ("matrix", r"\left(-\frac13, \frac23, \frac53\right)", r"\begin{pmatrix} -1/3 \\ 2/3 \\ 5/3 \end{pmatrix}", True),
    ("matrix", r"\begin{pmatrix} -1/3 \\ 5/3 \\ 2/3 \end{pmatrix}", r"\begin{pmatrix} -1/3 \\ 2/3 \\ 5/3 \end{pmatrix}", False),
    ("matrix", r"\begin{bmatrix} -1 & 0 \\ 0 & -1 \end{bmatrix}", r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}", True),
    ("matrix", r"\begin{pmatrix} -1 & 0 \\ 0 & 1 \end{pmatrix}", r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}", False),
    ("matrix", r"\begin{pmatrix} -1 & 0 & 0 & -1 \end{pmatrix}", r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}", False),
    ("matrix", "-1", r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}", False),
    ("matrix", r"\begin{pmatrix} 1 & 2 \end{pmatrix}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", False),
    ("matrix", "(1, 2)", r"\begin{pmatrix} 1 & 2 \end{pmatrix}", True),
    # sums and products of matrices, and numbers times matrices
    ("matrix-arithmetic", r"2\begin{pmatrix} 1 \\ -3 \end{pmatrix}", r"\begin{pmatrix} 2 \\ -6 \end{pmatrix}", True),
    ("matrix-arithmetic", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix} + \begin{pmatrix} 3 \\ -1 \end{pmatrix}",
     r"\begin{pmatrix} 4 \\ 1 \end{pmatrix}", True),
    ("matrix-arithmetic", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix} \begin{pmatrix} 0 & 1 \\ 1 & 0 \end{pmatrix}",
     r"\begin{pmatrix} 2 & 1 \\ 4 & 3 \end{pmatrix}", True),
    ("matrix-arithmetic", r"\frac{1}{2}\begin{pmatrix} 4 & 2 \\ 0 & 6 \end{pmatrix}",
     r"\begin{pmatrix} 2 & 1 \\ 0 & 3 \end{pmatrix}", True),
    ("matrix-arithmetic", r"-\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} -1 \\ -2 \end{pmatrix}", True),
    ("matrix-arithmetic", r"\begin{pmatrix} 0 & 1 \\ 1 & 0 \end{pmatrix} \begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
     r"\begin{pmatrix} 2 & 1 \\ 4 & 3 \end{pmatrix}", False),
    ("matrix-arithmetic", r"3\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} 3 \\ 2 \end{pmatrix}", False),
    ("matrix-arithmetic", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix} + 1", r"\begin{pmatrix} 2 \\ 3 \end{pmatrix}", False),
    ("matrix-arithmetic", r"\begin{pmatrix} 1 & 2 \end{pmatrix} + \begin{pmatrix} 1 \\ 2 \end{pmatrix}",
     r"\begin{pmatrix} 2 \\ 4 \end{pmatrix}", False),
    # numbers in a base
    ("base", "52_8", "52_8", True),
    ("base", "52_{8}", "52_8", True),
    ("base", "52", "52_8", True),
    ("base", "42", "52_8", False),
    ("base", "52_9", "52_8", False),
    ("base", "4210_5", "4210_{5}", True),
    ("base", "1358_{10}", "1358", True),
    ("base", "2516_8", "1358", False),
    # text answers
    ("text", "Evelyn", r"\text{Evelyn}", True),
    ("text", r"\textbf{EVELYN}", r"\text{Evelyn}", True),
    ("text", "Navin", r"\text{Evelyn}", False),
    ("text", "(C)", r"\text{(C)}", True),
    ("text", "C", r"\text{(C)}", True),
    ("text", "B", r"\text{(C)}", False),
    ("text", "an ellipse", r"\text{ellipse}", True),
    ("text", "parabola", r"\text{ellipse}", False),
    ("text", "East", r"\text{east}", True),
    ("text", "even", r"\text{odd}", False),
    ("text", "c", r"\text{C}", True),
    ("text", "D", r"\text{C}", False),
    # a choice letter followed by its option's text
    ("choice", "(B) 12", "B", True),
    ("choice", "B. 12", "B", True),
    ("choice", "B) 12", r"\text{(B)}", True),
    ("choice", r"\text{(C)} 14", "C", True),
    ("choice", "B", "(B) 12", True),
    ("choice", "(B) 12", "C", False),
    ("choice", "A. 12", r"\text{(B)}", False),
    ("choice", "(A) B", "B", False),
    # primes, accents, hbar, angles and square brackets, as Minerva and OlympiadBench write them
    ("latex symbols", "y'+ry-rx(t)=0", r"y^{\prime}+r y-r x(t)=0", True),
    ("latex symbols", "y'", "y", False),
    ("latex symbols", "y''", r"y^{\prime \prime}", True),
    ("latex symbols", "y'+ry=0", r"y^{\prime\prime}+r y=0", False),
    ("latex symbols", "y′ = 2", r"y^\prime=2", True),
    ("latex symbols", r"\dot{x_0}/\omega", r"\dot{x}_{0} / \omega", True),
    ("latex symbols", r"x_0/\omega", r"\dot{x}_{0} / \omega", False),
    ("latex symbols", r"\ddot\theta = -g\sin\theta", r"\ddot{\theta}+g \sin \theta=0", True),
    ("latex symbols", r"\dot\theta = -g\sin\theta", r"\ddot{\theta}+g \sin \theta=0", False),
    ("latex symbols", r"\frac{\hbar^2}{2m}", r"\hbar^{2}/(2 m)", True),
    ("latex symbols", "ħ\\omega/2", r"\frac{\hbar\omega}{2}", True),
    ("latex symbols", r"h\omega", r"\hbar\omega", False),
    ("latex symbols", r"\angle CBA + \angle ACB", r"\angle ABC+\angle BCA", True),
    ("latex symbols", "∠ABC + ∠BAC", r"\angle ABC+\angle BCA", False),
    ("latex symbols", r"2\left[x+1\right]", r"2x+2", True),
    ("latex symbols", r"\left[1,2\right)", r"[1,2)", True),
    ("latex symbols", r"\left[1,2\right]", r"[1,2)", False),
    ("latex symbols", r"L_\odot", r"L_{\odot}", True),
    ("latex symbols", r"m_{\text{max}}", r"m_{\max}", True),
    # a few structures that must not be confused
    ("structure", "(1, 2)", "1", False),
    ("structure", r"\{1, 2\}", "(1, 2)", False),
    ("structure", "x > 2", "2", False),
]

EXTRACTIONS = [
    (r"So the answer is $\boxed{5}$.", "5"),
    (r"Thus \boxed{\frac{1}{2}}", r"\frac{1}{2}"),
    (r"\boxed{\frac{\sqrt{3}}{2}} is it", r"\frac{\sqrt{3}}{2}"),
    (r"First \boxed{1}, then corrected: \boxed{2}", "2"),
    (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"),
    (r"\boxed{\{1,2\}}", r"\{1,2\}"),
    (r"\boxed{\text{(C)}}", r"\text{(C)}"),
    (r"The answer is \boxed 5.", "5"),
    (r"hence \boxed5", "5"),
    (r"\fbox{42}", "42"),
    (r"$$\boxed{x = 3}$$", "x = 3"),
    (r"\boxed{ 7 }", "7"),
    (r"\boxed{(3,4]}", "(3,4]"),
    (r"\boxed{1}\quad\boxed{2}", "2"),
    (r"Answer \boxed{\dfrac{3}{4}}.", r"\dfrac{3}{4}"),
    (r"\boxed{12} and then a cut-off \boxed{1", "12"),
    (r"\boxed{}", None),
    (r"\[\boxed{10}\]", "10"),
    (r"\boxed{\boxed{3}}", "3"),
    ("The final answer is $5$.", "5"),
    ("The final answer is 42. I hope it is correct.", "42"),
    (r"The final answer is $\frac{3}{4}$", r"\frac{3}{4}"),
    ("Final Answer: 17", "17"),
    ("**Final Answer:** 17", "17"),
    (r"**Final Answer**: \(x = 2\)", "x = 2"),
    ("So the answer is 3.5.", "3.5"),
    ("answer: -2", "-2"),
    (r"The answer is \(\sqrt{2}\).", r"\sqrt{2}"),
    ("Final answer:\n$$12$$", "12"),
    (r"The final answer is $\text{(B)}$.", r"\text{(B)}"),
    ("We get 3 apples and 7 pears, so 10 fruits", "10"),
    ("Total: 1,000 dollars", "1,000"),
    ("the result is -4.25", "-4.25"),
    ("x = 3/4", "3/4"),
    ("no numbers here", None),
    ("", None),
    (r"<think>maybe \boxed{3}</think>The answer is \boxed{4}.", "4"),
    (r"<think>it is \boxed{3}</think>So the final answer is 4.", "4"),
    (r"<think>I think it is \boxed{3}</think>", "3"),
    ("<think>The answer is 6.</think>Final Answer: 7", "7"),
    (r"<think>unfinished thoughts \boxed{9}", "9"),
    (r"<think>\boxed{1}</think><think>\boxed{2}</think>\boxed{5}", "5"),
    (r"The answer is $\$18.90$.", r"\$18.90"),
]

# Inputs a model could emit to stall or exploit the grader, each graded against "5".
HOSTILE = [
    ("power tower", "9^{9^{9^{9}}}"),
    ("huge factorial", "100000000!"),
    ("repeated factorial", "3!!!!"),
    ("million characters", "1" * 1_000_000),
    ("long literal", "9" * 999),
    ("huge exponent literal", "1e999999999"),
    ("deep sqrt", r"\sqrt{" * 300 + "2" + "}" * 300),
    ("deep brackets", "(" * 450 + "5" + ")" * 450),
    ("deep signs", "-" * 998 + "5"),
    ("two towers", "2^{2^{2^{2^{2^{2}}}}}"),
    ("huge binomial", r"\binom{10^{9}}{5\cdot 10^8}"),
    ("power of ten tower", "10^{10^{10}}"),
    ("exp tower", r"e^{e^{e^{e^{e^{10}}}}}"),
    ("exp function tower", r"\exp(\exp(\exp(\exp(10))))"),
    ("cosh tower", r"\cosh(\cosh(\cosh(\cosh(10))))"),
    ("product of huge powers", "2^{3999}" + r"\cdot 2^{3999}" * 80),
    ("big radicand", r"\sqrt{3^{8000}+1}"),
    ("big polynomial", "(x+1)^{10000}-x^{10000}"),
    ("symbolic tower", "x^{x^{x^{x^{x}}}}"),
    ("huge floor", r"\lfloor e^{8000} \rfloor"),
    ("sine of a huge number", r"\sin(10^{3999})"),
    ("undefined", r"\frac{0}{0}"),
    ("infinity minus infinity", r"\infty - \infty"),
    ("many plus-minus", r"\pm 1 \pm 2 \pm 3 \pm 4 \pm 5 \pm 6"),
    ("big set", ", ".join(f"x+{i}" for i in range(1, 120))),
    ("nested sets", r"\{" * 200 + "5" + r"\}" * 200),
    ("many braces", "{" * 999),
    ("backslashes", "\\" * 999),
    ("repeating block", r"0.\overline{" + "9" * 290 + "}"),
    ("matrix flood", r"\begin{pmatrix}" + " & ".join(["x^{999}"] * 90) + r"\end{pmatrix}"),
    ("control characters", "5\x00\x07\x1b[2J"),
    ("python import", "__import__('os').system('touch {marker}')"),
    ("python eval", "eval(\"open('{marker}', 'w')\")"),
    ("python exec", "exec(\"open('{marker}', 'w').write('x')\")"),
    ("sympy constructor", "Symbol('x').__class__.__init__.__globals__['os'].system('touch {marker}')"),
    ("lambda", "(lambda: open('{marker}', 'w'))()"),
    ("latex input", r"\input{/etc/passwd}"),
    ("latex def", r"\def\x{\x}\x"),
]


def degenerate(n: int) -> list[tuple[str, str]]:
    """Completions of n characters built to make a backtracking pattern take n^2 steps or more."""

    def run(unit: str, head: str = "", tail: str = "") -> str:
        body = unit * ((n - len(head) - len(tail)) // len(unit))
        return head + body + tail

    return [
        ("blanks after answer", run(" ", "answer")),
        ("blanks after final answer and bold", run(" ", "Final Answer **")),
        ("blanks between answer and a word", run(" ", "answer", "x")),
        ("newlines after answer is", run("\n", "The answer is")),
        ("open braces", run("{")),
        ("close braces", run("}")),
        ("braces after a box", run("{", r"\boxed")),
        ("unbalanced close after a box", run("}", r"\boxed{1")),
        ("dollars", run("$")),
        ("dollars after answer", run("$", "answer: ")),
        ("open inline maths", run("\\(")),
        ("open display maths", run("\\[")),
        ("stated answers", run("the answer is ")),
        ("stated answers opening maths", run("The answer is $")),
        ("open boxes", run("\\boxed{")),
        ("boxes of blanks", run("\\boxed{ }")),
        ("digits with commas", run("1,234")),
        ("grouped digits", run("123,")),
        ("digits", run("7")),
        ("decimal points", run("1.")),
        ("blanks after a number", run(" ", "5", "x")),
        ("blanks before a degree sign", run(" ", "5", r"\circ")),
        ("units", run(" cm", "5")),
        ("blanks after a Unicode root", run(" ", "\u221a", "x")),
        ("Unicode roots of decimals", run("\u221a1.")),
        ("Unicode superscripts", run("\u00b2\u207b", "x")),
        ("text groups", run("\\text{", "5 ")),
        ("a text group never closed", run("a", "\\text{", "{")),
        ("spacing commands", run("\\hspace{")),
        ("grouping commas", run(",\\!000", "1")),
        ("thousands in a brace", run(",000", "\\frac{1")),
        ("function arguments", run("x,", "f(")),
        ("ordinals", run("5th ")),
        ("choice letters", run("(B) ")),
        ("backslashes", run("\\")),
        ("carets and blanks", run("^ ")),
        ("primes never closed", run("\\prime ", "y^{")),
        ("blanks after a prime's caret", run(" ", "y^", "x")),
        ("carets of primes", run("^\\prime")),
        ("think tags", run("</think>")),
    ]


def rewrite(gold: str) -> str:
    """Another spelling of a reference answer: its parse printed back by sympy's LaTeX printer.

    Grading a reference against its rewrite exercises the parser and the full comparison,
    where grading it against itself stops at the string match.
    """
    import itertools
    import re

    import sympy as sp

    from reasoning.grading.latex import parse
    from reasoning.grading.nodes import Matrix, Relation, Seq, Union
    from reasoning.grading.normalize import clean, is_text

    cleaned = clean(gold)
    if is_text(cleaned, gold):
        return rf"\text{{ {cleaned.lower()} }}"
    base = re.fullmatch(r"(\d+)_\{?(\d+)\}?", cleaned)
    if base:
        return f"{base.group(1)}_{{({base.group(2)})}}"
    parsed = parse(cleaned)

    def values(expr):
        signs = [s for s in parsed.plus_minus if expr.has(s)]
        out = []
        for choice in itertools.product((1, -1), repeat=len(signs)):
            value = expr.xreplace(dict(zip(signs, choice)))
            out += [] if value in out else [value]
        return out

    def tex(node):
        if isinstance(node, Seq):
            items = [v for x in node.items for v in (values(x) if isinstance(x, sp.Expr) else [x])]
            opening, closing = (r"\{", r"\}") if node.open == "{" else (node.open, node.close)
            return opening + ", ".join(map(tex, items)) + closing
        if isinstance(node, Union):
            return r" \cup ".join(map(tex, node.parts))
        if isinstance(node, Relation):
            ops = {"=": "=", "<": "<", ">": ">", "<=": r"\le", ">=": r"\ge", "in": r"\in"}
            return tex(node.parts[0]) + "".join(
                f" {ops[op]} {tex(part)}" for op, part in zip(node.ops, node.parts[1:])
            )
        if isinstance(node, Matrix):
            rows = [" & ".join(map(tex, row)) for row in node.rows]
            return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"
        if len(values(node)) > 1:
            return r"\{" + ", ".join(map(sp.latex, values(node))) + r"\}"
        return sp.latex(node)

    node = parsed.node
    if isinstance(node, sp.Expr) and len(values(node)) == 1:
        return rf"\left({tex(node)}\right)"  # brackets keep even "9" off the string shortcut
    return tex(node)
