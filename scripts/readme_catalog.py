"""Write the built-in catalog table into README.md between the catalog markers."""

from pathlib import Path

from app.catalog import rule_paths
from app.check import load_table
from app.cli import catalog_markdown

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- catalog:start -->\n", "<!-- catalog:end -->"

text = README.read_text()
head, rest = text.split(START, 1)
_, tail = rest.split(END, 1)
README.write_text(head + START + catalog_markdown(load_table(rule_paths(None))) + END + tail)
