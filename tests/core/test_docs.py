"""The README's configuration table and links stay true to the code."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env_names():
    """Every variable read by the settings (config/settings/env.py) or by gunicorn.conf.py."""
    source = (ROOT / "config/settings/env.py").read_text() + (ROOT / "gunicorn.conf.py").read_text()
    return set(re.findall(r'env_(?:str|bool|int|list|choice)\(\s*"([A-Z0-9_]+)"', source))


def test_every_environment_variable_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    names = env_names()
    assert len(names) > 20
    missing = sorted(name for name in names if f"`{name}`" not in readme and f"`{name}` /" not in readme)
    assert not missing, f"README configuration table lacks {missing}"


def test_readme_lists_no_variable_the_code_does_not_read():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([A-Z0-9_]+)`", table, re.MULTILINE))
    assert listed - env_names() == set()


def test_readme_doc_links_exist():
    readme = (ROOT / "README.md").read_text()
    for link in re.findall(r"\]\(((?:docs|benchmarks)/[^)#]+)\)", readme):
        assert (ROOT / link).exists(), link


def test_env_example_lists_every_variable():
    example = (ROOT / ".env.example").read_text()
    missing = sorted(name for name in env_names() if f"# {name}=" not in example)
    assert not missing, f".env.example lacks {missing}"
