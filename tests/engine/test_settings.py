"""The settings table (nst/engine/settings.py): defaults, bounds, fingerprint, the workflow's schema."""
import jsonschema
import pytest

from nst.engine.settings import FIELDS, Settings, flag, params_schema, validate
from nst.errors import NSTError
from nst.image_files import MIN_SIDE

PATHS = {"content": "c.png", "style": "s.png", "output_dir": "out"}


def settings(**changes) -> Settings:
    return Settings(**(PATHS | changes))


def test_defaults_are_seed_002s_and_fill_in_the_dependent_settings():
    defaults = settings()
    validate(defaults)
    assert (defaults.size, defaults.optimizer, defaults.nsteps) == (512, "adam", 1000)
    assert (defaults.content_weight, defaults.style_weight, defaults.tv_weight) == (1e4, 1e-2, 300.0)
    assert defaults.style_longest_side(400) == 512 and defaults.weights == "caffe"
    assert defaults.style_layer_weights == [1.0] * len(defaults.style_layers) == [1.0] * 5
    assert settings(size=256, model="vgg16").style_longest_side(200) == 256
    assert settings(style_size=300).style_longest_side(200) == 300
    assert settings(style_scale=0.5).style_longest_side(301) == 150  # of the content as loaded
    assert settings(model="vgg16").weights == "torchvision"
    assert defaults.style == ["s.png"] and defaults.style_blend_weights == [1.0]


def test_a_blend_lists_every_style_with_weights_summing_to_one():
    blend = settings(style="a.png,b.png,c.png", style_blend_weights=[3.0, 1.0, 0.0])
    assert blend.style == ["a.png", "b.png", "c.png"]
    assert blend.blend() == [("a.png", 0.75), ("b.png", 0.25)]  # a weight of 0 leaves the style out
    assert settings(style="a.png,b.png").blend() == [("a.png", 0.5), ("b.png", 0.5)]


def test_a_style_file_with_a_comma_in_its_name_stays_one_file(tmp_path):
    odd = tmp_path / "still life, 1890.png"
    odd.write_bytes(b"")
    assert settings(style=str(odd)).style == [str(odd)]


def test_flags_are_the_names_with_dashes():
    assert flag("style_size") == "--style-size" and flag("nsteps") == "--nsteps"
    assert set(FIELDS) == set(settings().as_dict())


@pytest.mark.parametrize("changes, message", [
    ({"size": MIN_SIDE - 1}, f"--size: must be at least {MIN_SIDE} (got {MIN_SIDE - 1})"),
    ({"style_size": 16}, "--style-size: must be at least 32 (got 16)"),
    ({"style_scale": 0.0}, "--style-scale: must be greater than 0 (got 0.0)"),
    ({"style_size": 256, "style_scale": 0.5}, "--style-size and --style-scale: give one"),
    ({"style": "a.png,b.png", "style_blend_weights": [1.0]}, "--style-blend-weights: 1 weights for 2 style images"),
    ({"style": "a.png,b.png", "style_blend_weights": [0.0, 0.0]}, "--style-blend-weights: at least one weight"),
    ({"style_blend_weights": [-1.0]}, "--style-blend-weights: must not be negative (got -1.0)"),
    ({"nsteps": 0}, "--nsteps: must be at least 1 (got 0)"),
    ({"style_weight": -1.0}, "--style-weight: must not be negative (got -1.0)"),
    ({"adam_learning_rate": 0.0}, "--adam-learning-rate: must be greater than 0 (got 0.0)"),
    ({"adam_beta_1": 1.0}, "--adam-beta-1: must be less than 1 (got 1.0)"),
    ({"style_layer_weights": [1.0, -2.0, 1.0, 1.0, 1.0]}, "--style-layer-weights: must not be negative (got -2.0)"),
    ({"content_layers": []}, "--content-layers: give at least one value"),
    ({"style_layer_weights": [1.0, 1.0]}, "--style-layer-weights: 2 weights for 5 style layers"),
])
def test_validate_names_the_flag_and_the_bound(changes, message):
    with pytest.raises(NSTError) as error:
        validate(settings(**changes))
    assert str(error.value).startswith(message)


def test_bounds_at_the_edge_are_accepted():
    validate(settings(size=MIN_SIDE, style_size=MIN_SIDE, style_weight=0.0, save_every=0, adam_beta_1=0.0))


def test_fingerprint_holds_what_shapes_the_image_and_nothing_else():
    fields = settings().fingerprint_fields()
    assert {"size", "style_size", "optimizer", "seed", "content_weight", "style_layers", "model"} <= set(fields)
    assert not {"content", "style", "output_dir", "nsteps", "save_every", "ckpt_dir", "device", "threads",
                "resume", "log_every", "lipschitz_every"} & set(fields)
    assert settings(nsteps=5, device="cpu").fingerprint_fields() == fields
    assert settings(seed=1).fingerprint_fields() != fields


def test_params_schema_mirrors_the_table():
    schema = params_schema()
    properties = schema["properties"]
    assert set(properties) == {name for name, f in FIELDS.items() if f.metadata["per_pair"]}
    assert not {"content", "style", "output_dir", "name", "device", "threads", "resume", "ckpt_dir"} & set(properties)
    assert properties["size"]["minimum"] == MIN_SIDE == properties["style_size"]["minimum"]
    assert properties["adam_beta_1"]["exclusiveMaximum"] == 1
    for name, rule in properties.items():
        if FIELDS[name].metadata["choices"]:
            assert rule["enum"] == list(FIELDS[name].metadata["choices"]), name
    check = jsonschema.Draft202012Validator(schema)
    assert check.is_valid({"size": 64, "style_layers": "conv1_1,relu2_1", "style_layer_weights": [1, 0.5]})
    assert check.is_valid({"content_layers": ["block5_conv2"]})
    for bad in ({"size": 16}, {"nstep": 10}, {"content_weight": "1e4"}, {"optimizer": "sgd"}, {"device": "cpu"},
                {"style_layers": []}):
        assert not check.is_valid(bad), bad
