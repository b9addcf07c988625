"""Rules every stored notebook and runbook keeps (nbval checks the outputs themselves)."""

import re
from pathlib import Path

import nbformat
import pytest

from flightpipe.runbook import NOTEBOOKS, RUNBOOKS, load_runbook

NOTEBOOK_FILES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
SECRET_PATTERNS = {
    "12-digit account id": re.compile(r"(?<![\d.])\d{12}(?![\d.])"),
    "access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "secret key assignment": re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*\S+"),
    "password value": re.compile(r"(?i)\"password\"\s*:\s*\"[^\"]+\""),
}


def read(path: Path):
    return nbformat.read(path, as_version=4)


def test_there_is_a_notebook_per_step():
    names = [p.stem for p in NOTEBOOK_FILES]
    assert names[0] == "00_overview" and names[-1] == "99_teardown"
    assert {"01_iam", "02_s3", "03_redshift", "10_daily_ingest", "20_validate_and_chart"} <= set(names)


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_one_parameters_cell_then_derived_values(path):
    nb = read(path)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged parameters"
    assert nb.cells[0].cell_type == "markdown", "a notebook starts by saying why"
    params = nb.cells[tagged[0]].source
    # only plain assignments of literals: anything computed belongs in a later cell
    for line in params.splitlines():
        code = line.split("#")[0].strip()
        if code:
            assert re.fullmatch(r"\w+ = (\".*\"|'.*'|-?[\d.]+|True|False|None)", code), f"{path.name}: {line}"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_stored_outputs_carry_no_secret_or_account_id(path):
    nb = read(path)
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "") + "".join(
                v for k, v in output.get("data", {}).items() if k.startswith("text/") and isinstance(v, str)
            )
            for what, pattern in SECRET_PATTERNS.items():
                assert not pattern.search(text), f"{path.name} cell {index}: {what} in stored output"


@pytest.mark.parametrize("runbook", sorted(p.stem for p in RUNBOOKS.glob("*.yaml")))
def test_runbooks_name_existing_notebooks(runbook):
    for notebook, _ in load_runbook(runbook):
        assert (NOTEBOOKS / notebook).exists(), f"{runbook}: {notebook}"


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_papermill_sees_every_parameter(path):
    import papermill

    assigned = {line.split("=")[0].strip() for line in parameters_source(path).splitlines() if "=" in line}
    assert set(papermill.inspect_notebook(str(path))) == assigned


def parameters_source(path: Path) -> str:
    return next(c.source for c in read(path).cells if "parameters" in c.metadata.get("tags", []))


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_averages_are_taken_over_a_fractional_type(path):
    """Redshift's AVG of an integer column returns an integer, truncated (Redshift Database Developer Guide, "AVG
    function": https://docs.aws.amazon.com/redshift/latest/dg/r_AVG.html); the fact table's delays are BIGINT."""
    for cell in read(path).cells:
        if cell.cell_type == "code":
            bare = re.findall(r"(?i)\bAVG\(\s*(?!CAST\b)[^)]*\)", cell.source)
            assert not bare, f"{path.name} cell {cell.get('id')}: {bare} (cast to DOUBLE PRECISION first)"


# What the cell after `parameters` must not do by hand: runbook_context does it, in the caller's partition.
HAND_MADE = {
    "an ARN built from a string": re.compile(r"""f?["']arn:(aws[\w-]*:|\{)"""),
    "a warehouse constructed": re.compile(r"\bWarehouse\("),
    "a state machine ARN derived": re.compile(r"\.state_machine_arn\("),
    "names derived": re.compile(r"\bNames\.(for_caller|derive)\(|\bNames\("),
    "the target chosen": re.compile(r"\buse_target\("),
    "the caller asked": re.compile(r"\bget_caller_identity\("),
}


def hand_made(source: str) -> list[str]:
    return [what for what, pattern in HAND_MADE.items() if pattern.search(source)]


def test_the_rule_sees_each_hand_made_derivation():
    old_setup = ('tgt = config.use_target(target, region)\ncaller = boto3.client("sts").get_caller_identity()\n'
                 'names = Names.for_caller(project, region, caller, bucket)')
    assert hand_made(old_setup) == ["names derived", "the target chosen", "the caller asked"]
    assert hand_made('sm_arn = f"arn:aws:states:{region}:{account_id}:stateMachine:{names.state_machine}"') == [
        "an ARN built from a string"]
    assert hand_made('arn = f"arn:{partition}:sns:{region}:{account_id}:{names.topic}"') == [
        "an ARN built from a string"]
    assert hand_made("wh = Warehouse(database=names.redshift_database, cluster_id=names.redshift_cluster)") == [
        "a warehouse constructed"]
    assert hand_made("sm_arn = names.state_machine_arn(account_id)") == ["a state machine ARN derived"]
    assert hand_made('if sub["SubscriptionArn"].startswith("arn:"):') == []  # reading an ARN is fine
    assert hand_made("sm_arn = ctx.arns.state_machine\nwh = ctx.warehouse") == []


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_derived_values_come_from_the_runbook_context(path):
    nb = read(path)
    tagged = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    setup = nb.cells[tagged + 1]
    assert setup.cell_type == "code", f"{path.name}: the cell after the parameters derives the rest"
    assert "ctx = runbook_context(target, region, project, bucket)" in setup.source, path.name
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not hand_made(cell.source), f"{path.name} cell {cell.get('id')}: {hand_made(cell.source)}"
