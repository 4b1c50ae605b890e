"""The `reasoning` command's groups, one module each: generate and chat, model info and
conversion, eval, train (GRPO, SFT, plot), distill. Each registers its subcommands with
`add_*_parser(subparsers)` and holds argument parsing and calls only; the library does the
work. Building the parsers imports no torch, so `reasoning --help` answers at once."""
