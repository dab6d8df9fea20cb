from pathlib import Path

import pytest

from selfmoa.cli.main import main
from selfmoa.core.config import Config, load_config
from selfmoa.core.errors import SelfMoaError
from selfmoa.pipeline.validation import check_config

CONFIGS = sorted(Path(__file__).parents[1].joinpath("configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    config = load_config(path)
    assert isinstance(config, Config)


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_unknown_key_names_the_key(tmp_path):
    with pytest.raises(SelfMoaError, match=r"unknown key 'train.lerning_rate'"):
        load_config(write(tmp_path, "train:\n  lerning_rate: 0.1\n"))


def test_wrong_type_names_the_key(tmp_path):
    with pytest.raises(SelfMoaError, match=r"^config error: rounds: .*'two'"):
        load_config(write(tmp_path, "rounds: two\n"))


def test_overrides_are_dotted_and_typed(tmp_path):
    config = load_config(
        write(tmp_path, "rounds: 1\n"),
        ["rounds=3", "train.beta=0.2", "redteam.strategies=[direct]"],
    )
    assert (config.rounds, config.train.beta, config.redteam.strategies) == (3, 0.2, ["direct"])


def test_bad_override_form(tmp_path):
    with pytest.raises(SelfMoaError, match="key=value"):
        load_config(write(tmp_path, "{}\n"), ["rounds"])


def test_missing_model_path_names_key_and_path(tmp_path):
    config = load_config(write(tmp_path, f"models:\n  policy: {tmp_path}/no-such-model\n"))
    with pytest.raises(SelfMoaError, match=r"models.policy: model path .*no-such-model"):
        check_config(config)


def test_unknown_embedded_model(tmp_path):
    config = load_config(write(tmp_path, "models:\n  embedder: embedded:nope\n"))
    with pytest.raises(SelfMoaError, match="models.embedder: unknown embedded model"):
        check_config(config)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("train:\n  foo: 1\n", "unknown key 'train.foo'"),
        ("train:\n  epochs: abc\n", "train.epochs"),
        ("models:\n  policy: /missing/model\n", "/missing/model"),
        ("rounds: [1\n", "not valid YAML"),
    ],
)
def test_cli_prints_one_line_without_traceback(tmp_path, capsys, text, expected):
    code = main(["validate", str(write(tmp_path, text))])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_missing_config_file(capsys, tmp_path):
    assert main(["run", str(tmp_path / "absent.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
