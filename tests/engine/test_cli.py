"""The command line (nst/engine/cli.py): options generated from the settings table, errors as one line."""
import pytest

from nst.engine.cli import build_parser, settings_from_args
from nst.engine.settings import FIELDS, flag
from nst.layout import RunFiles
from nst.record import FAILED, read_record
from support.engine import run_cli


def test_help_documents_every_option_with_its_default():
    text = build_parser().format_help()
    for flag_ in ["--nsteps", "--content-weight", "--adam-epsilon", "--ckpt-keep-max", "--gram-norm",
                  "--tv-kind", "--lipschitz-every", "--style-size", "--device", "--threads", "--resume-from"]:
        assert flag_ in text
    assert "(default: 1000)" in text and "(default: 0.0001)" not in text and "(default: 1e-07)" in text


def test_every_setting_is_an_option_with_both_spellings():
    parser = build_parser()
    options = {option for action in parser._actions for option in action.option_strings}
    for name in FIELDS:
        assert flag(name) in options, name
        if "_" in name:
            assert f"--{name}" in options, name  # the seed's underscore spelling
    args = parser.parse_args(["--content", "c", "--style", "s", "--output-dir", "o", "--style_layers",
                              "conv1_1,relu2_1", "--content-weight", "2e4", "--resume"])
    assert args.style_layers == ["conv1_1", "relu2_1"] and args.content_weight == 2e4 and args.resume


def test_required_inputs_and_bad_choices_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        settings_from_args(build_parser(), ["--content", "c", "--style", "s"])
    assert exit_info.value.code == 2 and "--output-dir or --output is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--content", "c", "--style", "s", "--output-dir", "o", "--optimizer", "sgd"])
    assert "invalid choice: 'sgd'" in capsys.readouterr().err


def test_bad_option_value_is_a_clear_error(images, tmp_path, capsys):
    run_cli(images, tmp_path, "--nsteps", "0", expect=1)
    assert "nst: error: --nsteps: must be at least 1" in capsys.readouterr().err
    record = read_record(RunFiles(tmp_path, "scene_tiles").record)
    assert record.status == FAILED and record.error.startswith("--nsteps: must be at least 1")


@pytest.mark.parametrize("option", ["--size", "--style-size"])
def test_images_smaller_than_the_network_needs_are_refused_before_reading(images, tmp_path, capsys, option):
    run_cli(images, tmp_path, option, "16", expect=1)
    assert f"nst: error: {option}: must be at least 32 (got 16)" in capsys.readouterr().err
