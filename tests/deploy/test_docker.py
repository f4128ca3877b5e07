"""deploy/docker/: the images' Dockerfiles, checked without a Docker daemon. Their install steps
are derived here from the files the README's steps run (scripts/install-system-deps.sh, the
Makefile's install recipe, pyproject.toml's onnxruntime-gpu pin), so image and README cannot drift."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "deploy" / "docker"
DOCKERFILES = {"cpu": DOCKER / "Dockerfile", "cuda": DOCKER / "Dockerfile.cuda"}
#: packages of scripts/install-system-deps.sh the CUDA image leaves out, and why
CUDA_LEAVES_OUT = {"chromium": "Ubuntu ships Chromium only as a snap, which does not run in a container (browser tests only)"}
#: what the CUDA image adds: Ubuntu's base has no Python 3.11 (Debian's python image does)
CUDA_ADDS = {"python3.11"}
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


@dataclass(frozen=True)
class Instruction:
    line: int
    name: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Dockerfile instructions (continuations joined, comments and parser directives dropped);
    raises ValueError naming the line of an unknown instruction or a bad JSON (exec) form."""
    out, buf, start = [], "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue  # Docker drops comment lines inside a continuation
        start = start or n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        name, _, args = (buf + line).strip().partition(" ")
        if name.upper() not in INSTRUCTIONS:
            raise ValueError(f"line {start}: unknown instruction {name!r}")
        args = args.strip()
        if name.upper() in ("CMD", "ENTRYPOINT", "VOLUME") and args.startswith("["):
            json.loads(args)  # an exec form must be a JSON array
        out.append(Instruction(start, name.upper(), args))
        buf, start = "", 0
    if buf:
        raise ValueError("the file ends inside a line continuation")
    return out


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """The build stages, each starting with its FROM."""
    if not instructions or instructions[0].name != "FROM":
        raise ValueError("a Dockerfile starts with FROM (after parser directives and comments)")
    out: list[list[Instruction]] = []
    for ins in instructions:
        if ins.name == "FROM":
            out.append([])
        out[-1].append(ins)
    return out


def commands(run: Instruction) -> list[list[str]]:
    """A shell-form RUN's commands (split at &&), its --mount flags dropped, each as argv."""
    words = shlex.split(run.args)
    while words and words[0].startswith("--"):
        words.pop(0)
    argvs, cur = [], []
    for w in words:
        if w == "&&":
            argvs.append(cur)
            cur = []
        else:
            cur.append(w)
    return argvs + [cur]


def apt_installs(stage: list[Instruction]) -> set[str]:
    out = set()
    for run in (i for i in stage if i.name == "RUN"):
        for argv in commands(run):
            if "apt-get" in argv and "install" in argv:
                out |= {w for w in argv[argv.index("install") + 1:] if not w.startswith("-")}
    return out


def pip_installs(argvs: list[list[str]]) -> list[list[str]]:
    """Each ``python -m pip install``'s targets, flags (-q, -U, -e, --no-cache-dir) dropped."""
    out = []
    for argv in argvs:
        if argv[1:4] == ["-m", "pip", "install"]:
            out.append([w for w in argv[4:] if not w.startswith("-")])
    return out


def script_packages() -> set[str]:
    """The packages scripts/install-system-deps.sh installs (its ``for pkg in ...`` list)."""
    m = re.search(r"^for pkg in ([^;]+); do", (REPO / "scripts" / "install-system-deps.sh").read_text(), re.M)
    assert m, "scripts/install-system-deps.sh no longer lists its packages in `for pkg in ...; do`"
    return set(m.group(1).split())


def make_install_pips() -> list[list[str]]:
    """`make install`'s pip steps, read from the Makefile's recipe lines."""
    lines = [ln.strip() for ln in (REPO / "Makefile").read_text().splitlines() if "-m pip install" in ln]
    return pip_installs([shlex.split(ln) for ln in lines])


@pytest.fixture(scope="module", params=sorted(DOCKERFILES))
def dockerfile(request) -> tuple[str, list[list[Instruction]]]:
    return request.param, stages(parse_dockerfile(DOCKERFILES[request.param].read_text()))


@pytest.mark.parametrize("text, error", [
    ("RUN echo hi\n", "starts with FROM"),
    ("FROM python:3.11-slim-bookworm\nRUNN echo hi\n", "line 2: unknown instruction 'RUNN'"),
    ('FROM python:3.11-slim-bookworm\nCMD ["serve", \n', "Expecting value"),
    ("FROM python:3.11-slim-bookworm\nRUN echo \\\n", "ends inside a line continuation"),
])
def test_the_parser_refuses_what_docker_refuses(text, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        stages(parse_dockerfile(text))


def test_both_dockerfiles_parse_into_a_build_and_a_runtime_stage(dockerfile):
    _, parsed = dockerfile
    assert [s[0].args.split()[-1] for s in parsed[:-1]] == ["build"]
    runtime = parsed[-1]
    assert any(i.name == "COPY" and i.args.startswith("--from=build /opt/venv") for i in runtime)


def test_base_images_are_pinned_by_tag(dockerfile):
    kind, parsed = dockerfile
    for stage in parsed:
        image = stage[0].args.split()[0]
        name, _, tag = image.partition(":")
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{kind}: {image} is not pinned by a versioned tag"
    expected = "python:3.11-slim-bookworm" if kind == "cpu" else "nvidia/cuda:"
    assert all(s[0].args.split()[0].startswith(expected) for s in parsed), [s[0].args for s in parsed]


def test_the_cuda_base_is_the_cuda_and_cudnn_that_the_pinned_onnxruntime_gpu_needs():
    pin = next(d for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"] if d.startswith("onnxruntime-gpu=="))
    assert importlib.metadata.version("onnxruntime-gpu") == pin.split("==")[1], "the installed onnxruntime-gpu is not pyproject's pin"
    wants = " ".join(importlib.metadata.requires("onnxruntime-gpu"))
    cuda = re.search(r"nvidia-cuda-runtime~=(\d+)\.", wants).group(1)
    cudnn = re.search(r"nvidia-cudnn-cu\d+~=(\d+)\.", wants).group(1)
    assert (cuda, cudnn) == ("13", "9")  # what docs/deploy.md and Dockerfile.cuda's comment say
    for stage in stages(parse_dockerfile(DOCKERFILES["cuda"].read_text())):
        image = stage[0].args.split()[0]
        assert re.fullmatch(rf"nvidia/cuda:{cuda}\.\d+\.\d+-cudnn-runtime-ubuntu22\.04", image), image


def test_apt_packages_are_the_install_script_s(dockerfile):
    kind, parsed = dockerfile
    expected = script_packages() if kind == "cpu" else (script_packages() - set(CUDA_LEAVES_OUT)) | CUDA_ADDS
    assert apt_installs(parsed[-1]) == expected


def test_pip_steps_are_make_install_s_without_the_dev_extra_or_editable(dockerfile):
    _, parsed = dockerfile
    make = make_install_pips()
    assert make == [["pip", "setuptools<81", "wheel"], [".[dev]"]], f"the Makefile's install recipe changed: {make}"
    image = [p for run in parsed[0] if run.name == "RUN" for p in pip_installs(commands(run))]
    assert image == [make[0], ["."]]


def test_the_runtime_stage_runs_unprivileged_serves_8000_and_checks_healthz(dockerfile):
    _, parsed = dockerfile
    runtime = parsed[-1]
    last = {i.name: i.args for i in runtime}  # the last of each instruction is the one that counts
    assert last["USER"].split(":")[0] not in ("", "0", "root"), last["USER"]
    assert last["EXPOSE"] == "8000"
    assert "http://127.0.0.1:8000/healthz" in last["HEALTHCHECK"] and " CMD " in f" {last['HEALTHCHECK']} "
    assert json.loads(last["ENTRYPOINT"]) == ["sensorium"]
    assert json.loads(last["CMD"]) == ["serve", "--host", "0.0.0.0", "--config", "/etc/sensorium/serve.yaml"]
    assert json.loads(last["VOLUME"]) == ["/var/lib/sensorium"]
    env = dict(re.findall(r"(\w+)=(\S+)", last["ENV"]))
    assert env["SENSORIUM_CACHE"].startswith("/var/lib/sensorium/") and env["SENSORIUM_DATA"].startswith("/var/lib/sensorium/")
    users = [i.line for i in runtime if i.name == "USER"]
    assert all(i.line < users[0] for i in runtime if i.name == "RUN"), "a RUN after USER would run unprivileged: keep USER last"


def test_what_the_images_copy_is_in_the_build_context(dockerfile):
    """Every COPY source exists and .dockerignore does not hide it."""
    _, parsed = dockerfile
    ignored = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    sources = [w for stage in parsed for i in stage if i.name == "COPY" and not i.args.startswith("--from") for w in i.args.split()[:-1]]
    assert "." in sources
    for src in (s for s in sources if s != "."):
        assert not any(Path(src).match(p) or src.startswith(p.rstrip("/") + "/") for p in ignored), f"{src} is in .dockerignore"
        assert (REPO / src).exists(), f"COPY {src}: no such file in the repository"


def _image_config(kind: str) -> dict:
    """The Serve config an image's default command runs (what it COPYs to /etc/sensorium/serve.yaml)."""
    [copy] = [i for stage in stages(parse_dockerfile(DOCKERFILES[kind].read_text())) for i in stage
              if i.name == "COPY" and i.args.endswith(" /etc/sensorium/serve.yaml")]
    return yaml.safe_load((REPO / copy.args.split()[0]).read_text())


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_the_images_serve_config_is_public_and_valid(kind):
    """A container is reached from outside: a proxy on 127.0.0.1 would answer only itself, and a
    service that thinks it is on loopback would run without its token."""
    from ray.serve.schema import ServeDeploySchema

    from .test_kubernetes import unknown_keys

    config = _image_config(kind)
    ServeDeploySchema.model_validate(config)
    assert unknown_keys(ServeDeploySchema, config) == []
    assert config["http_options"] == {"host": "0.0.0.0", "port": 8000}
    assert all(app["args"]["service"]["host"] == "0.0.0.0" for app in config["applications"])
    gpus = [d for app in config["applications"] for d in app.get("deployments", []) if d.get("ray_actor_options", {}).get("num_gpus")]
    assert bool(gpus) == (kind == "cuda"), gpus


def test_the_cuda_image_runs_the_rayservice_s_serve_config():
    from .test_kubernetes import serve_config

    assert _image_config("cuda") == serve_config()


def test_the_images_serve_configs_are_deploy_serve_yaml_with_their_overlays():
    from .test_kubernetes import render

    if not render.SERVE_CONFIG.exists():
        pytest.skip("deploy/serve.yaml (H3's Serve config, #12) is not in this tree yet")
    for path, (config, overlays) in render.image_configs().items():
        assert path.read_text() == render.config_file(config, overlays), f"{path.name} is stale: run python scripts/render_serve_config.py"


def test_the_build_context_leaves_out_environments_data_and_credentials():
    ignored = (REPO / ".dockerignore").read_text()
    for pattern in ("**/.venv", ".git", "**/*.sqlite", "**/token*.txt", "tests"):
        assert re.search(rf"^{re.escape(pattern)}$", ignored, re.M), f".dockerignore lacks {pattern}"
