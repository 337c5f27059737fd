"""Checks the deployment files in deploy/ (run by tests/deploy.rs with the
services' venv Python, which has kubernetes-validate and PyYAML):

- deploy/kubernetes/*.yaml against the Kubernetes schemas (kubernetes-validate
  --strict: unknown fields are errors), and in sharded.yaml that the shard
  Job is an Indexed Job with backoffLimitPerIndex and the merge waits for
  the shards;
- the Argo CronWorkflow: fans the shards out with withSequence and merges
  after them, shard index and count passed to --shard;
- the Airflow DAG: compiles, maps the shard task with .expand() and runs the
  merge downstream (Airflow itself is not installed: too heavy for CI);
- the AWS Batch job definition (JSON, the fields Batch requires) and its
  submit script (bash -n; an array job and a merge depending on it).

Every recon command line found is checked against `recon <command> --help`
(the binary given as argv[1]): an option the CLI lacks is an error.
Exit 0 when all pass; otherwise each problem on stderr and exit 1.
"""

import ast
import glob
import json
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
problems = []


def fail(where, what):
    problems.append(f"{os.path.relpath(where, ROOT)}: {what}")


def recon_options(recon, command):
    out = subprocess.run([recon, command, "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"--[a-z][a-z0-9-]*", out))


def check_recon_lines(path, text, options):
    # Each `recon run|merge ...` command line and the options it uses.
    for m in re.finditer(r"recon (run|merge)\b([^\n\"]*(?:\n\s+--[^\n\"]*)*)", text):
        command, rest = m.group(1), m.group(2)
        for opt in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", rest):
            if opt not in options[command]:
                fail(path, f"`recon {command}` has no option {opt}")


def check_kubernetes(validate):
    files = sorted(glob.glob(os.path.join(DEPLOY, "kubernetes", "*.yaml")))
    if not files:
        fail(DEPLOY, "no Kubernetes manifests in deploy/kubernetes")
    for path in files:
        r = subprocess.run([validate, "--strict", "--quiet", path], capture_output=True, text=True)
        if r.returncode != 0:
            fail(path, "kubernetes-validate: " + (r.stdout + r.stderr).strip())
        if os.path.basename(path) != "sharded.yaml":
            continue
        docs = [d for d in yaml.safe_load_all(open(path)) if d]
        jobs = {d["metadata"]["name"]: d["spec"]["jobTemplate"]["spec"] for d in docs if d.get("kind") == "CronJob"}
        shard = [j for j in jobs.values() if j.get("completionMode") == "Indexed"]
        if not shard:
            fail(path, "no Indexed Job for the shards")
        for j in shard:
            for key in ("completions", "parallelism", "backoffLimitPerIndex"):
                if key not in j:
                    fail(path, f"the shard Job lacks {key}")
            args = " ".join(j["template"]["spec"]["containers"][0].get("args", []))
            if f"--shard auto/{j['completions']}" not in args:
                fail(path, f"the shard Job's {j['completions']} completions are not its --shard auto/N")
        merges = [j for j in jobs.values() if "recon merge" in " ".join(j["template"]["spec"]["containers"][0].get("args", []))]
        if not merges or not all("--await" in " ".join(j["template"]["spec"]["containers"][0]["args"]) for j in merges):
            fail(path, "no merge Job waiting for the shards (--await)")


def check_argo(options):
    path = os.path.join(DEPLOY, "argo", "recon-cronworkflow.yaml")
    wf = yaml.safe_load(open(path))
    if wf.get("apiVersion") != "argoproj.io/v1alpha1" or wf.get("kind") != "CronWorkflow":
        fail(path, "not an argoproj.io/v1alpha1 CronWorkflow")
        return
    spec = wf["spec"]
    for key in ("schedule", "workflowSpec"):
        if key not in spec:
            fail(path, f"spec lacks {key}")
    templates = {t["name"]: t for t in spec["workflowSpec"]["templates"]}
    entry = templates.get(spec["workflowSpec"].get("entrypoint"))
    if not entry or "steps" not in entry:
        fail(path, "the entrypoint has no steps")
        return
    steps = [s for group in entry["steps"] for s in group]
    names = [s["template"] for s in steps]
    if names != ["shard", "merge"]:
        fail(path, f"steps are {names}, not the shards then the merge")
    if "withSequence" not in steps[0]:
        fail(path, "the shards are not fanned out (withSequence)")
    args = " ".join(templates["shard"]["container"]["args"])
    if "--shard {{inputs.parameters.index}}/{{workflow.parameters.shards}}" not in args:
        fail(path, "the shard step does not pass index/count to --shard")
    # Each recon container's arguments: the command, then its options.
    for name, t in templates.items():
        c = t.get("container", {})
        if c.get("command") != ["recon"]:
            continue
        command, *rest = c["args"]
        if command not in options:
            fail(path, f"template {name}: `recon {command}` is not a command this check knows")
            continue
        for opt in rest:
            if str(opt).startswith("--") and opt not in options[command]:
                fail(path, f"template {name}: `recon {command}` has no option {opt}")


def check_airflow():
    path = os.path.join(DEPLOY, "airflow", "recon_dag.py")
    source = open(path).read()
    try:
        tree = ast.parse(source, path)  # compiled in memory: no __pycache__ in deploy/
        compile(tree, path, "exec")
    except SyntaxError as e:
        fail(path, f"does not compile: {e}")
        return
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    if not any(c.func.attr == "expand" for c in calls):
        fail(path, "the shards are not a mapped task (.expand)")
    if not any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.RShift) for n in ast.walk(tree)):
        fail(path, "the merge is not downstream of the shards (>>)")


def check_batch():
    path = os.path.join(DEPLOY, "aws-batch", "job-definition.json")
    d = json.load(open(path))
    for key in ("jobDefinitionName", "type", "containerProperties"):
        if key not in d:
            fail(path, f"lacks {key}")
    c = d.get("containerProperties", {})
    for key in ("image", "command", "resourceRequirements"):
        if key not in c:
            fail(path, f"containerProperties lacks {key}")
    if not any(s["valueFrom"].startswith("arn:aws:secretsmanager:") for s in c.get("secrets", [])):
        fail(path, "the keys do not come from Secrets Manager")
    script = os.path.join(DEPLOY, "aws-batch", "submit.sh")
    r = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    if r.returncode != 0:
        fail(script, "bash -n: " + r.stderr.strip())
    text = open(script).read()
    for needle in ("--array-properties", "--depends-on", "--shard auto/"):
        if needle not in text:
            fail(script, f"lacks {needle}")


def main():
    recon, validate = sys.argv[1], sys.argv[2]
    options = {c: recon_options(recon, c) for c in ("run", "merge")}
    check_kubernetes(validate)
    check_argo(options)
    check_airflow()
    check_batch()
    for path in glob.glob(os.path.join(DEPLOY, "**", "*"), recursive=True):
        if os.path.isfile(path) and path.endswith((".yaml", ".py", ".json", ".sh")):
            check_recon_lines(path, open(path).read(), options)
    for p in problems:
        print(p, file=sys.stderr)
    sys.exit(1 if problems else 0)


main()
