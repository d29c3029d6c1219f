"""Print benchmark rows as a Markdown table (shared by the benchmark scripts)."""


def print_table(header, rows) -> None:
    """header: column titles; rows: lists of already formatted cells."""
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
