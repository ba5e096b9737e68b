"""docs/api.md's examples run as a reader would run them, so that the page cannot drift from the API: every
curl command of the page, in the page's order, through Django's test client (its method, headers, body,
`--data-binary @file` and `-o file`), and the manage.py lines through call_command. A comment `# → 201`
after a command is the status it must give (any other curl must succeed), `Idempotent-Replayed: true`
a header it must have, `inserted 0` what an import must say, `notes: "…"` the stored session's notes;
a JSON example after a curl of the same section must have the shape (the keys, nested) of its answer.

"Try it" runs as the page says, from the token its first command makes to the revoke; the other examples
stand for any token, and run as one the test made. "$PT", "car 1" and a job's id are the test's."""

import json
import re
import shlex
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from api.services import api_token_create
from plugtrack_site.accounts import owner_account_ensure
from sessions_app.models import ChargingSession

PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
TRY_IT = "Try it"
ALL_SCOPES = ["sessions:read", "sessions:write", "analytics:read", "backups:run"]


@dataclass
class Command:
    section: str
    kind: str  # "shell", "file" (a heredoc) or "json" (an example answer)
    text: str
    comment: str = ""
    name: str = ""


def page_commands(text: str) -> list[Command]:
    """The page's bash and JSON blocks, in order: continuation lines joined, a comment line after a command
    added to its comment, `cat > FILE <<'EOF'` … `EOF` as a file."""
    found: list[Command] = []
    section, block, lines = "", None, iter(text.splitlines())
    for line in lines:
        if block is None:
            if heading := re.match(r"#{2,6} (.*)", line):
                section = heading.group(1)
            elif line in ("```bash", "```json"):
                block, json_lines = line[3:], []
            continue
        if line == "```":
            if block == "json":
                found.append(Command(section, "json", "\n".join(json_lines)))
            block = None
        elif block == "json":
            json_lines.append(line)
        elif heredoc := re.fullmatch(r"cat > (\S+) <<'EOF'", line):
            body = "\n".join(iter(lambda: next(lines), "EOF"))
            found.append(Command(section, "file", body, name=heredoc.group(1)))
        elif line.lstrip().startswith("#") and found and found[-1].kind == "shell":
            found[-1].comment += " " + line.lstrip("# ").strip()
        else:
            text_, comment = _uncommented("", line)
            while text_.endswith("\\") or not _closed(text_):  # a continuation, or a quote still open
                text_, comment = _uncommented(text_[:-1] if text_.endswith("\\") else text_ + "\n", next(lines))
            found.append(Command(section, "shell", text_.strip(), comment.strip()))
    return found


def _closed(line: str) -> bool:
    try:
        shlex.split(line)
    except ValueError:  # "No closing quotation"
        return False
    return True


def _uncommented(before: str, line: str) -> tuple[str, str]:
    """`before` and the line, and the line's comment: from the first " # " outside quotes."""
    for found in re.finditer(" # ", line):
        if _closed(before + line[: found.start()]):
            return before + line[: found.start()].rstrip(), line[found.end() :]
    return before + line.rstrip(), ""


def shape(value):
    """A JSON value's keys, nested: what an example must share with the answer it stands for."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list) and value:
        return [shape(value[0])]
    return None if not isinstance(value, list) else []


@dataclass
class Reader:
    """Someone running the page's commands: their token, their files, the answers they have seen."""

    car_id: int
    token: str
    folder: Path
    client: Client = field(default_factory=lambda: Client(REMOTE_ADDR="192.0.2.80"))
    location: str = ""
    answer: object = None
    answer_section: str = ""
    ran: list[str] = field(default_factory=list)

    def ours(self, text: str) -> str:
        text = re.sub(r'"car": 1\b', f'"car": {self.car_id}', text)
        text = re.sub(r"\bcar=1\b", f"car={self.car_id}", text)
        if self.location.startswith("/api/v1/jobs/"):
            text = re.sub(r"/api/v1/jobs/\d+", self.location, text)
        return text

    def curl(self, command: Command) -> None:
        args = shlex.split(self.ours(command.text.replace("$PT", "/api/v1").replace("$TOKEN", self.token)))
        method, headers, body, output, url = "GET", {}, b"", None, None
        options = iter(args[1:])
        for arg in options:
            if arg == "-X":
                method = next(options)
            elif arg == "-H":
                name, _, value = next(options).partition(": ")
                headers[name] = value
            elif arg in ("-d", "--data-binary"):
                data = next(options)
                body = self.ours((self.folder / data[1:]).read_text()) if data.startswith("@") else data
                body = body.encode()
                method = "POST" if method == "GET" else method
            elif arg == "-o":
                output = next(options)
            elif not arg.startswith("-"):
                url = arg
        content_type = headers.pop("Content-Type", "application/json")
        response = self.client.generic(method, url, body, content_type=content_type, headers=headers)
        expected = re.search(r"→ (\d{3})", command.comment)
        if expected:
            assert response.status_code == int(expected.group(1)), (command.text, response.content)
        else:
            assert response.status_code < 400, (command.text, response.content)
        if "Idempotent-Replayed: true" in command.comment:
            assert response.get("Idempotent-Replayed") == "true", command.text
        if output:
            (self.folder / output).write_bytes(b"".join(response.streaming_content))
        elif response["Content-Type"].startswith("application/json"):
            self.answer, self.answer_section = response.json(), command.section
            if notes := re.search(r'notes: "(.*)"', command.comment):
                assert self.answer["session"]["notes"] == notes.group(1)
        self.location = response.get("Location", self.location)
        self.ran.append(f"{method} {url} → {response.status_code}")

    def manage(self, command: Command) -> str:
        name, *args = shlex.split(self.ours(command.text.replace("--car 1", f"--car {self.car_id}")))
        out = StringIO()
        call_command(name, *args, stdout=out)
        if inserted := re.search(r"inserted (\d+)", command.comment):
            assert re.search(rf"inserted\s+{inserted.group(1)}\b", out.getvalue()), out.getvalue()
        self.ran.append(f"manage.py {name}")
        return out.getvalue()

    def run(self, command: Command) -> None:
        text = command.text
        if command.kind == "file":
            (self.folder / command.name).write_text(command.text + "\n")
        elif command.kind == "json":
            if self.answer is not None and command.section == self.answer_section:
                assert shape(json.loads(command.text)) == shape(self.answer), command.text
                self.ran.append(f"an example of {self.answer_section}")
        elif made := re.fullmatch(r"export TOKEN=\$\(\S*python manage\.py (.*) \| jq -r \.token\)", text):
            self.token = json.loads(self.manage(Command(command.section, "shell", made.group(1))))["token"]
        elif text.startswith("curl "):
            self.curl(command)
        elif (manage := re.match(r"\S*python manage\.py (.*)", text)) and command.section != "Tokens":
            self.manage(Command(command.section, "shell", manage.group(1), command.comment))


@pytest.fixture
def demo_car(db, make_car):
    demo, _ = owner_account_ensure(username="demo", password="plugtrack-demo")
    return make_car(demo, name="Family Niro")


def test_the_pages_commands_run_as_written_in_order(demo_car, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    commands = page_commands(PAGE.read_text())
    docs_token = api_token_create(user=demo_car.user, name="docs", scopes=ALL_SCOPES, car_ids=[], expires_days=1)
    other = Reader(car_id=demo_car.pk, token=docs_token.secret, folder=tmp_path)
    walker = Reader(car_id=demo_car.pk, token="", folder=tmp_path)
    for command in commands:
        (walker if command.section == TRY_IT else other).run(command)

    assert walker.ran[0] == "manage.py api_token_create"
    assert walker.ran[-1] == "GET /api/v1/cars → 401"  # revoked by the line before
    assert len([line for line in other.ran if line.startswith("POST /api/v1/sessions")]) == 2
    assert any(line.startswith("GET /api/v1/jobs/") for line in other.ran)
    assert [line for line in other.ran if line.startswith("an example")] == [
        "an example of GET /sessions",
        "an example of GET /cars",
        "an example of GET /analytics/summary",
        "an example of POST /backups and GET /jobs/{id}",
    ]
    # Try it's session (posted three times), the 28 March one, and evcc's with the odometer before it
    stored = ChargingSession.objects.filter(car=demo_car).select_related("external").order_by("date")
    external = [getattr(getattr(session, "external", None), "external_id", None) for session in stored]
    assert [(str(s.date), s.odometer) for s in stored] == [("2026-03-21", 12400), ("2026-03-28", 12480),
                                                           ("2026-04-02", 12480)]  # fmt: skip
    assert external == ["try-it-1", None, "evcc-311"]


def test_the_page_is_read_whole():
    """The reader above skips nothing it should run: every block is found, the examples' bodies are JSON."""
    commands = page_commands(PAGE.read_text())
    curls = [command for command in commands if command.kind == "shell" and command.text.startswith("curl ")]
    assert len(curls) >= 15
    assert {command.section for command in curls} >= {
        "In short",
        "Try it",
        "POST /sessions",
        "GET /sessions",
        "GET /sessions.csv",
        "GET /cars",
        "GET /analytics/summary",
        "POST /backups and GET /jobs/{id}",
    }
    for command in curls:
        if " -d " in command.text:
            json.loads(shlex.split(command.text)[shlex.split(command.text).index("-d") + 1])
    for command in commands:
        if command.kind in ("json",) or (command.kind == "file" and command.name.endswith(".json")):
            json.loads(command.text)
