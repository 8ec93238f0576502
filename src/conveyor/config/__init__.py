"""Configuration: the ``conveyor.yaml`` model, its loading and precedence.

Precedence, documented once: environment variables ``CONVEYOR_*`` > ``conveyor.yaml`` >
defaults. Settings are read at an entry point (``Workspace.open``, the CLI) and passed
down; nothing reads them at import time.
"""

from __future__ import annotations

from conveyor.config._cost import CostConfig
from conveyor.config._kubernetes import KubernetesConfig
from conveyor.config._load import (
    CONFIG_FILE,
    ENV_ALIASES,
    dump_config,
    find_project,
    find_root,
    load_settings,
    render_default_config,
)
from conveyor.config._model import (
    ConveyorConfig,
    DataConfig,
    EncryptionConfig,
    EvaluationConfig,
    FeaturesConfig,
    ProjectConfig,
    RunsConfig,
    Settings,
    StoreConfig,
)
from conveyor.config._operations import (
    AnalysisConfig,
    EnvironmentConfig,
    MonitoringConfig,
    TrafficConfig,
    TriggerConfig,
    WebhookEndpoint,
    WebhooksConfig,
)
from conveyor.config._security import (
    PiiConfig,
    PredictionsConfig,
    ServerConfig,
    ServingAuthConfig,
    SigningConfig,
    parse_duration,
)
from conveyor.core import process_env, set_process_env

__all__ = [
    "AnalysisConfig",
    "CONFIG_FILE",
    "ConveyorConfig",
    "CostConfig",
    "DataConfig",
    "ENV_ALIASES",
    "EncryptionConfig",
    "EnvironmentConfig",
    "EvaluationConfig",
    "FeaturesConfig",
    "KubernetesConfig",
    "MonitoringConfig",
    "PiiConfig",
    "PredictionsConfig",
    "ProjectConfig",
    "RunsConfig",
    "ServerConfig",
    "ServingAuthConfig",
    "Settings",
    "SigningConfig",
    "StoreConfig",
    "TrafficConfig",
    "TriggerConfig",
    "WebhookEndpoint",
    "WebhooksConfig",
    "dump_config",
    "find_project",
    "find_root",
    "load_settings",
    "parse_duration",
    "process_env",
    "render_default_config",
    "set_process_env",
]
