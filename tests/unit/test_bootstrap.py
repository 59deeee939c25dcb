"""The shared start-up script: hostile values reach the agent byte for byte and never run as shell."""

from __future__ import annotations

import os
import subprocess
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from providers.base import AgentBootstrap
from providers.bootstrap import render_startup_script

_ENV = {**os.environ, "SPOTWISE_BOOT_DIR": tempfile.mkdtemp(prefix="spotwise-boot-")}  # not /var/lib/spotwise
hostile = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60)


def _without_agent(script: str) -> str:
    """The script up to the line that would start the real agent (values may span lines)."""
    head, sep, _ = script.partition("\nrestarts=0\nwhile :; do")  # the agent runs under a supervisor loop
    assert sep, "the script must end by starting the agent"
    return head


@settings(max_examples=150, deadline=None)
@given(url=hostile, attempt=hostile, token=hostile)
def test_values_survive_quoting(url: str, attempt: str, token: str) -> None:
    script = render_startup_script(AgentBootstrap(api_url=url, attempt_id=attempt, token=token),
                                   install_command="true", work_root="/tmp")
    probe = _without_agent(script) + '\nprintf "%s\\0%s\\0%s" "$SPOTWISE_URL" "$SPOTWISE_ATTEMPT_ID" ' \
                                    '"$SPOTWISE_BOOTSTRAP_TOKEN"\n'
    out = subprocess.run(["sh", "-c", probe], capture_output=True, check=True, env=_ENV).stdout
    assert out.split(b"\0") == [v.encode() for v in (url, attempt, token)]


def test_injection_attempt_does_not_execute(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker})`touch {marker}`'; touch {marker}; '"
    script = render_startup_script(AgentBootstrap(api_url=evil, attempt_id=evil, token=evil),
                                   install_command="true", work_root=str(tmp_path))
    subprocess.run(["sh", "-c", _without_agent(script)], check=True, env={**_ENV, "SPOTWISE_BOOT_DIR": str(tmp_path)})
    assert not marker.exists()
    assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0  # the whole script parses
