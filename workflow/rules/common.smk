"""Glue between config.yaml and the rules: the plan (nst/planning.py) and the paths (nst/layout.py)."""

import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# The package sits next to the Snakefile. Putting it on PYTHONPATH makes `python -m nst`
# and the scripts work in every job (local, conda, cluster: a cluster job re-reads this
# file), whether or not it was pip-installed.
PACKAGE_ROOT = str(Path(workflow.basedir).resolve())
sys.path.insert(0, PACKAGE_ROOT)
# (Set for the jobs, not required from the user: hence no `envvars:` directive.)
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [PACKAGE_ROOT, os.getenv("PYTHONPATH")])))

from nst.layout import Results
from nst.planning import ConfigError, make_plan, variant_wildcard_pattern, wildcard_pattern
from nst.samples import SAMPLES

try:
    PLAN = make_plan(
        config,
        schema_dir=Path(workflow.basedir) / "workflow" / "schemas",
        sample_names={kind: list(samples) for kind, samples in SAMPLES.items()},
    )
except ConfigError as error:
    raise WorkflowError(str(error)) from None
for warning in PLAN.warnings():
    logger.warning(f"Warning: {warning}")

RESULTS = PLAN.results
CONTENTS, STYLES, PAIRS, CELLS = PLAN.contents, PLAN.styles, PLAN.pairs, PLAN.cells
VARIANTS = list(PLAN.variants)  # [None] without a sweep
# With a sweep, every per-pair path has a {variant} level; without one it has none.
VARIANT = "{variant}" if PLAN.sweeping else None
# Path patterns of one pair, with the wildcards left in.
RUN = RESULTS.run("{content}", "{style}", VARIANT)
CHECKPOINTS = RESULTS.checkpoints("{content}", "{style}", VARIANT)
PLOT = RESULTS.plot("{content}", "{style}", VARIANT)
CONTACT_SHEET = RESULTS.contact_sheet_of(VARIANT)

# Jobs use the interpreter that runs Snakemake, as `script:` rules do, unless a conda
# env or container supplies its own `python`.
PYTHON = "python" if workflow.deployment_settings.deployment_method else shlex.quote(sys.executable)
# Warm start (nst/warm): local stylise jobs become forks of one interpreter that has imported
# torch once. Not in a cluster job, whose scheduler must see and end the run's own process,
# nor in a conda env or container, which may not outlive its job.
WARM_START = bool(
    PLAN.config["warm_start"] and workflow.local_exec and not workflow.remote_exec
    and not workflow.deployment_settings.deployment_method
)
LAUNCH_PREFIX = "NST_WARM_START=1 " if WARM_START else ""

# A wildcard is one id, never a '/'; a mistyped id is then "no rule to produce".
wildcard_constraints:
    content=wildcard_pattern(),
    style=wildcard_pattern(),
    blend=wildcard_pattern(),
    variant=variant_wildcard_pattern(),


def every_pair(pattern, variants=VARIANTS):
    """``pattern`` (a path with {content}, {style} and maybe {variant}) for every cell of
    ``variants``, variant by variant, each in grid order."""
    pattern = str(pattern)
    return [pattern.format(content=content, style=style, variant=variant)
            for variant, content, style in CELLS if variant in variants]


def variant_of(wildcards):
    return wildcards.get("variant")


def variant_finals(wildcards):
    """The final images of one variant's grid (the contact sheet's inputs)."""
    return every_pair(RUN.final, [variant_of(wildcards)])


def pair_inputs(wildcards):
    """The pair's images: content, and the style file(s) (one input function, not two: 10,000
    pairs parse faster)."""
    return {"content": CONTENTS[wildcards.content], "style": PLAN.style_files(wildcards.style)}


def blend_files(wildcards):
    return PLAN.blends[wildcards.blend].files


def engine_flags(wildcards):
    return PLAN.engine_flags(wildcards.content, wildcards.style, variant_of(wildcards))


def stylise_mem_mb(wildcards, attempt):
    return PLAN.mem_mb(wildcards.content, wildcards.style, variant_of(wildcards), attempt)


def stylise_runtime(wildcards, attempt):
    return PLAN.runtime_minutes(wildcards.content, wildcards.style, variant_of(wildcards), attempt)


def print_flags(wildcards):
    return PLAN.print_engine_flags(wildcards.content, wildcards.style, variant_of(wildcards))


def print_mem_mb(wildcards, attempt):
    return PLAN.print_mem_mb(wildcards.content, wildcards.style, variant_of(wildcards), attempt)


def print_runtime(wildcards, attempt):
    return PLAN.print_runtime_minutes(wildcards.content, wildcards.style, variant_of(wildcards), attempt)


def every_print():
    """The final image of every cell in the config's prints."""
    run = RESULTS.print_run("{content}", "{style}", VARIANT)
    return [str(run.final).format(content=content, style=style, variant=variant)
            for variant, content, style in PLAN.prints]


def get_final_output():
    """Every pair's final image, every print, and the report (which needs everything else).

    The final images must be named here: after a failure `onerror` writes a partial
    report at the report's own path, and a rerun would otherwise find it and stop.
    """
    return [*every_pair(RUN.final), *every_print(), str(RESULTS.report.index)]


def every_contact_sheet():
    return [str(RESULTS.contact_sheet_of(variant)) for variant in VARIANTS]
