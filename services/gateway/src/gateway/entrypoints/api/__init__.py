"""The public HTTP API (/v1): thin routes that validate, call one handler and map its answer."""
