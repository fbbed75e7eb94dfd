"""Warm start: the runs of a grid share one interpreter that has already imported torch.

A job of the workflow is ``python -m nst ...``, one process per pair. About four seconds of it
are the same for every pair: importing torch, matplotlib and pandas, dequantising the VGG-19
weights. With ``NST_WARM_START=1`` in its environment, ``python -m nst`` becomes a thin client
(:mod:`.client`): it asks a server (:mod:`.server`) that has paid those once to fork, and the
fork runs the command exactly as the process would have, with the client's arguments, working
folder, environment, umask and standard streams. The client passes on every signal it gets
(SIGTERM from SLURM or Snakemake, Ctrl-C) to the run, waits for it and exits with its status,
so to Snakemake, a shell and the graceful stop the client is the run.

The first client starts the server (one per user, interpreter, code version and import-time
environment: :func:`.protocol.server_key`); it exits after :data:`.protocol.IDLE_SECONDS`
without a run. Wherever it cannot be reached or started, the command runs in the client's own
process, as without warm start, after one line on stderr saying why.
"""

SWITCH = "NST_WARM_START"


def asked(environ) -> bool:
    """Whether ``environ`` asks for warm start (``NST_WARM_START`` set to 1, yes, true or on)."""
    return environ.get(SWITCH, "").strip().lower() in {"1", "yes", "true", "on"}
