"""The README's option table (nst/engine/option_table.py): generated, complete and current."""
from pathlib import Path

from nst.engine.option_table import BEGIN, END, markdown, replace_block
from nst.engine.settings import FIELDS, flag

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_table_is_current():
    text = README.read_text()
    assert replace_block(text, markdown()) == text, (
        "README.md's option table is stale: run `python -m nst.engine.option_table README.md`")


def test_table_has_every_setting_its_spellings_and_workflow_key():
    table = markdown()
    for name, field in FIELDS.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{flag(name)}`"))
        if field.metadata["per_pair"]:
            assert f"| `{name}` |" in row
        else:
            assert "(set by the workflow)" in row
    assert "`--preserve-color`" in table and "`--ckpt_write_every`" in table and "| `--optim` |" in table
    assert "`--pooling` `max\\|avg` | `max` |" in table  # choices, escaped for the table


def test_replace_block_keeps_the_rest():
    text = f"before\n{BEGIN}\nold\n{END}\nafter\n"
    assert replace_block(text, "new\n") == f"before\n{BEGIN}\nnew\n{END}\nafter\n"
