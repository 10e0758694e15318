"""The Gradio UI: chat with cited answers, sources, corpus management and evals."""

import os

# Set before anything imports gradio or huggingface_hub: no usage analytics, no telemetry.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
