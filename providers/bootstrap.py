"""The one start-up script generator every cloud adapter uses (user data, startup-script, custom data).

Pure: bootstrap facts in, a POSIX shell script out. Every value that came from a user or the
daemon is quoted with `shlex.quote`, so a hostile job name or URL cannot inject shell. The job's
command, environment and secrets are NOT in the script: the agent fetches them over its authenticated
channel, so they never sit in cloud metadata. Nor does the agent token: the script carries a once-only bootstrap
token that the agent exchanges, with the instance's identity proof, for it (orchestrator/agent/session.py).

With a wheel pinned in the bootstrap the script downloads the daemon's own wheel from the
authenticated endpoint (curl, else Python), refuses it unless its sha256 is the pinned one, installs exactly
that file, and runs the agent under a small supervisor loop that restarts it after a crash (the agent reports
each restart to the daemon). A few `SPOTWISE_*` variables let a test stand in for the cloud image: the boot
directory, the Python, extra pip arguments and the notice watcher.
"""

from __future__ import annotations

import shlex

from providers.base import AgentBootstrap

DEFAULT_INSTALL = "python3 -m pip install --quiet spotwise"

# Reads the bootstrap token from the environment, never from argv (which `ps` shows to every user on the VM).
_PY_FETCH = ('import os,sys,urllib.request as u; r=u.Request(sys.argv[1],headers={"Authorization":"Bearer "+'
             'os.environ["SPOTWISE_BOOTSTRAP_TOKEN"]}); open(sys.argv[2],"wb").write(u.urlopen(r,timeout=120).read())')
_PY_SHA = 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())'


def _wheel_install(bootstrap: AgentBootstrap) -> list[str]:
    q = shlex.quote
    pip_args = " ".join(q(a) for a in shlex.split(bootstrap.pip_args))
    return [
        f"wheel=\"$boot\"/{q(bootstrap.wheel_name)}",
        f"want={q(bootstrap.wheel_sha256)}",
        'url="$SPOTWISE_URL/v1/agent/attempts/$SPOTWISE_ATTEMPT_ID/wheel"',
        "fetch() {",
        "  if command -v curl >/dev/null 2>&1; then",
        '    printf \'Authorization: Bearer %s\\n\' "$SPOTWISE_BOOTSTRAP_TOKEN" >"$boot/auth-header"',
        '    curl -fsS --max-time 300 -H @"$boot/auth-header" -o "$wheel.part" "$url"',
        "  else",
        f'    "$py" -c {q(_PY_FETCH)} "$url" "$wheel.part"',
        "  fi",
        "}",
        "tries=0",
        # a re-run (GCE runs its startup-script on every boot) keeps the verified wheel it already has: the
        # bootstrap token that downloads it is good for a short while only
        f'if [ -f "$wheel" ] && [ "$("$py" -c {q(_PY_SHA)} "$wheel")" = "$want" ]; then cp "$wheel" "$wheel.part"; '
        'else',
        "until fetch; do",
        "  tries=$((tries + 1))",
        '  if [ "$tries" -ge 20 ]; then',
        '    echo "spotwise: cannot download the agent wheel from $url" >>"$log"; exit 1',
        "  fi",
        "  sleep 3",
        "done",
        "fi",
        'rm -f "$boot/auth-header"',
        f'got=$("$py" -c {q(_PY_SHA)} "$wheel.part")',
        'if [ "$got" != "$want" ]; then',
        '  echo "spotwise: agent wheel checksum mismatch (got $got, want $want); not installing it" >>"$log"',
        "  exit 1",
        "fi",
        'mv "$wheel.part" "$wheel"',
        f'"$py" -m pip install --quiet {pip_args} ${{SPOTWISE_STUB_PIP_ARGS:-}} "$wheel" >>"$log" 2>&1'.replace(
            "  ", " "),
    ]


def _supervisor(max_restarts: int) -> list[str]:
    return [
        "restarts=0",
        "while :; do",
        "  rc=0",
        '  SPOTWISE_AGENT_RESTARTS=$restarts "$py" -m orchestrator.agent >>"$log" 2>&1 || rc=$?',
        '  if [ "$rc" -eq 0 ]; then exit 0; fi',
        "  restarts=$((restarts + 1))",
        f'  echo "spotwise: agent exited with $rc; restart $restarts of {int(max_restarts)}" >>"$log"',
        f'  if [ "$restarts" -gt {int(max_restarts)} ]; then exit "$rc"; fi',
        "  sleep 2",
        "done",
    ]


def render_startup_script(
    bootstrap: AgentBootstrap,
    *,
    install_command: str = DEFAULT_INSTALL,
    notice_source: str = "",
    work_root: str = "/var/lib/spotwise/work",
) -> str:
    """A shell script that installs the agent and runs it with the attempt's bootstrap token.

    `notice_source` names the cloud ("aws", "gcp", "azure"): its preemption notice watcher and the metadata
    server the agent reads its identity proof from for the bootstrap exchange. With `bootstrap.wheel_sha256`
    set, the daemon's wheel is installed (verified) instead of `install_command`.
    """
    env = {
        "SPOTWISE_URL": bootstrap.api_url,
        "SPOTWISE_ATTEMPT_ID": bootstrap.attempt_id,
        "SPOTWISE_BOOTSTRAP_TOKEN": bootstrap.token,  # once-only; the agent trades it for its agent token
        "SPOTWISE_WORK_ROOT": work_root,
        "SPOTWISE_NOTICE": notice_source,
        "SPOTWISE_IDENTITY": notice_source,
    }
    exports = "\n".join(f"export {key}={shlex.quote(value)}" for key, value in env.items())
    install = _wheel_install(bootstrap) if bootstrap.wheel_sha256 else [install_command]
    return "\n".join(
        [
            "#!/bin/sh",
            "# Generated by Spotwise: installs and starts the agent for one attempt.",
            "set -eu",
            "umask 077",
            exports,
            'if [ -n "${SPOTWISE_STUB_NOTICE+set}" ]; then export SPOTWISE_NOTICE="$SPOTWISE_STUB_NOTICE"; fi',
            'if [ -n "${SPOTWISE_STUB_IDENTITY+set}" ]; then export SPOTWISE_IDENTITY="$SPOTWISE_STUB_IDENTITY"; fi',
            'boot="${SPOTWISE_BOOT_DIR:-/var/lib/spotwise}"',
            'export SPOTWISE_CLAIM_FILE="$boot/agent-claim"',
            'py="${SPOTWISE_PYTHON:-python3}"',
            'log="$boot/agent.log"',
            f'mkdir -p "$boot" {shlex.quote(work_root)}',
            *install,
            *_supervisor(bootstrap.max_restarts),
            "",
        ]
    )
