"""The ``sensorium`` console script: the one composition root of the command line.

Every command group is a Typer of its own that knows nothing of the others; this module adds
them all (nothing registers itself by being imported). It lives in ``deploy/`` because
``serve`` needs the REST app, and only ``deploy`` may import both layers.
"""

from __future__ import annotations

import typer

from sensorium.deploy.commands import agent, serve, token
from sensorium.pipeline.cli import batch, models, run, train
from sensorium.pipeline.cli.data import data_app
from sensorium.pipeline.cli.faces import faces_app

app = typer.Typer(add_completion=False, no_args_is_help=False, help="sensorium: multimodal perception pipelines on Ray.")
app.add_typer(run.app)  # run, sample, calibrate
app.add_typer(models.app)  # doctor, models list, export
app.add_typer(batch.app)  # batch, search
app.add_typer(train.train_app, name="train")
app.add_typer(train.eval_app, name="eval")
app.add_typer(faces_app, name="faces")
app.add_typer(data_app, name="data")  # data fetch, data check (the test data)
app.add_typer(serve.app)  # serve
app.add_typer(agent.agent_app, name="agent")
app.add_typer(token.token_app, name="token")


def main() -> None:  # pragma: no cover - entry point
    app()
