"""Output helpers shared by the benchmark scripts: a Markdown table and a JSON file."""
import json
from pathlib import Path


def print_table(header, rows) -> None:
    """header: column titles; rows: lists of already formatted cells."""
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def write_json(data, path) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2))
    print(f"wrote {out}")
