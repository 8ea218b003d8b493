"""Loads the Terraform under infra/ with python-hcl2 into plain Python values.

python-hcl2 keeps HCL's quotes around labels and literal strings (`"\"aws_sqs_queue\""`), marks blocks
with `__is_block__` and keeps comments under `__comments__`; `plain` removes all three so the tests read like
the HCL does. Expressions stay as their `${...}` text.
"""

import json
from pathlib import Path

import hcl2
import pytest

INFRA = Path(__file__).resolve().parents[1]
REPO = INFRA.parent


def plain(value):
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def load(path: Path) -> dict:
    with path.open() as f:
        return plain(hcl2.load(f))


class Module:
    """Every block of one module directory, by kind: resources[type][name], data[type][name], ..."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.resources: dict = {}
        self.data: dict = {}
        self.modules: dict = {}
        self.locals: dict = {}
        self.variables: dict = {}
        self.outputs: dict = {}
        self.terraform: list = []
        for path in sorted(directory.glob("*.tf")):
            doc = load(path)
            for kind, target in (("resource", self.resources), ("data", self.data)):
                for block in doc.get(kind, []):
                    for rtype, named in block.items():
                        for name, body in named.items():
                            target.setdefault(rtype, {})[name] = body
            for block in doc.get("module", []):
                self.modules.update(block)
            for block in doc.get("locals", []):
                self.locals.update(block)
            for block in doc.get("variable", []):
                self.variables.update(block)
            for block in doc.get("output", []):
                self.outputs.update(block)
            self.terraform.extend(doc.get("terraform", []))

    def text(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.directory.glob("*.tf")))


@pytest.fixture(scope="session")
def modules() -> dict:
    return {p.name: Module(p) for p in sorted((INFRA / "modules").iterdir()) if p.is_dir()}


@pytest.fixture(scope="session")
def root() -> Module:
    """The one Terraform root every environment deploys (infra/root)."""
    return Module(INFRA / "root")


@pytest.fixture(scope="session")
def environments() -> dict:
    """Each environment's committed settings (infra/environments/<env>/settings.tfvars), by name."""
    return {
        p.name: load(p / "settings.tfvars")
        for p in sorted((INFRA / "environments").iterdir())
        if p.is_dir()
    }


@pytest.fixture(scope="session")
def routes() -> dict:
    return json.loads((REPO / "contracts" / "routes.json").read_text())


@pytest.fixture(scope="session")
def generated() -> dict:
    return json.loads((INFRA / "generated" / "routes.auto.tfvars.json").read_text())
