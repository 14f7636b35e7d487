import pytest

from glassgpt.config import PRESETS, RunConfig, resolve
from glassgpt.errors import ConfigError


def test_resolution_order_preset_file_overrides(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('preset = "small"\n[train]\nlr = 5e-4\nmax_steps = 77\n[model]\ndropout = 0.0\n')
    cfg = resolve(config_file=f, overrides=["train.max_steps=9", "n_layer=3"])
    assert cfg.preset == "small" and cfg.model.n_embd == 384  # from the preset
    assert cfg.train.lr == 5e-4 and cfg.model.dropout == 0.0  # from the file
    assert cfg.train.max_steps == 9 and cfg.model.n_layer == 3  # overrides win


def test_round_trip_through_json_dict():
    cfg = resolve("nursery", overrides={"train.lr": 2e-3})
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_every_preset_is_valid():
    for name in PRESETS:
        assert resolve(name).preset == name


def test_typed_overrides():
    cfg = resolve(overrides=["model.bias=false", "train.max_steps=1e3", "train.compile=yes"])
    assert cfg.model.bias is False and cfg.train.max_steps == 1000 and cfg.train.compile is True
    with pytest.raises(ConfigError, match="ambiguous"):
        resolve(overrides=["vocab_size=10"])
    with pytest.raises(ConfigError, match="true or false"):
        resolve(overrides=["model.bias=maybe"])
    with pytest.raises(ConfigError, match="key=value"):
        resolve(overrides=["model.bias"])


def test_list_settings_from_set_and_toml(tmp_path):
    cfg = resolve(overrides=["train.sample_prompts=All that |Young in "])
    assert cfg.train.sample_prompts == ("All that ", "Young in ")
    f = tmp_path / "c.toml"
    f.write_text('[train]\nsample_prompts = ["a", "b"]\n')
    assert resolve(config_file=f).train.sample_prompts == ("a", "b")
    f.write_text("[train]\nsample_prompts = [1, 2]\n")
    with pytest.raises(ConfigError, match="list of strings"):
        resolve(config_file=f)


def test_the_ten_minute_speedrun_is_the_speedrun_recipe_scaled():
    """cpu-speedrun-10m changes only the model's size, the warmup, the budget and the weight decay:
    every other choice (block, optimizer, bf16 autocast, schedule on the time clock) is the searched
    100-second recipe."""
    short, long = resolve("cpu-speedrun"), resolve("cpu-speedrun-10m")
    changed_model = {k for k, v in vars(long.model).items() if getattr(short.model, k) != v}
    changed_train = {k for k, v in vars(long.train).items() if getattr(short.train, k) != v}
    assert changed_model == {"n_layer", "n_head", "n_embd"} and long.model.n_embd % long.model.n_head == 0
    assert changed_train == {"warmup_steps", "time_budget", "weight_decay"} and long.train.time_budget == 594.0
    assert long.train.schedule_clock == "time" and long.train.optimizer == "muon"
