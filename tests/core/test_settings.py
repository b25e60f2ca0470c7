from pathlib import Path

import pytest

from flightdeck.core.errors import ConfigError
from flightdeck.core.settings import load_settings

EXAMPLE = """
[server]
host = "127.0.0.1"
port = 8080

[[models]]
name = "chat-default"
provider = "openai"
base_url = "http://127.0.0.1:9000/v1"
model = "gpt-4o-mini"
api_key_env = "UPSTREAM_KEY"
weight = 1
fallbacks = ["chat-backup"]

[[models]]
name = "chat-backup"
base_url = "http://127.0.0.1:9001/v1"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flightdeck.toml"
    path.write_text(text)
    return path


def test_issue_example_loads_with_secret_from_env(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, EXAMPLE), {"UPSTREAM_KEY": "sk-123"})
    primary = settings.models[0]
    assert primary.api_key is not None and primary.api_key.get_secret_value() == "sk-123"
    assert "sk-123" not in repr(settings)  # secrets never printed
    assert settings.models[1].upstream_model == "chat-backup"


def test_environment_overrides_file(tmp_path: Path) -> None:
    env = {
        "UPSTREAM_KEY": "k",
        "FLIGHTDECK_SERVER__PORT": "9999",
        "FLIGHTDECK_ROUTER__MAX_RETRIES": "5",
    }
    settings = load_settings(write(tmp_path, EXAMPLE), env)
    assert settings.server.port == 9999 and settings.router.max_retries == 5


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        (
            EXAMPLE.replace("weight = 1", "weight = -1"),
            {"UPSTREAM_KEY": "k"},
            "models[0].weight: Input should be greater than 0",
        ),
        (
            EXAMPLE.replace("port = 8080", 'port = "eighty"'),
            {"UPSTREAM_KEY": "k"},
            "server.port: Input should be a valid integer",
        ),
        (
            EXAMPLE.replace("weight = 1", "wieght = 1"),
            {"UPSTREAM_KEY": "k"},
            "models[0].wieght: unknown key",
        ),
        (EXAMPLE, {}, "models[0].api_key_env: environment variable UPSTREAM_KEY is not set"),
        (
            EXAMPLE.replace('["chat-backup"]', '["nowhere"]'),
            {"UPSTREAM_KEY": "k"},
            "unknown model name 'nowhere'",
        ),
        ("[server\nport = 1", {}, "invalid TOML"),
    ],
)
def test_bad_config_fails_with_one_line_naming_the_key(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), env)
    message = str(info.value)
    assert expected in message and "\n" not in message
