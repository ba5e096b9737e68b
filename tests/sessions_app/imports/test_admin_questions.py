"""Questions where the person is (issue 22, point 1): what an owner's file needs before its check (the
currency of its costs, a date order, a time zone, an encoding, the rule for blank odometers) is asked
on its columns page, in words, and the answers reach the check; a question only a later row raises is
asked on the job's page, and the same upload is checked again: never uploaded twice. The admin never
names a command-line option; the command line still does (one message, two renderings)."""

import ast
import datetime as dt
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from jobs.models import Job
from plugtrack_site.errors import PlugTrackError
from sessions_app.imports.choices import ImportChoices
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
from sessions_app.imports.preview import PREVIEW_ROWS

from .formats.test_mappings import ODD, columns_form_data
from .formats.test_presets import EVCC_DE, teslafi_file
from .test_csv_admin import confirm

IMPORT = "admin:sessions_app_chargingsession_import"
OPTION = re.compile(r"(?<![\w-])--[a-z]")  # a command-line option: "--currency", not "—" nor "var(--x)"
REPO = Path(__file__).resolve().parents[3]


def upload(client, car, content: str | bytes, name: str = "log.csv", file_format: str = "auto"):
    content = content.encode() if isinstance(content, str) else content
    data = {"car": car.pk, "import_file": SimpleUploadedFile(name, content, "text/csv"), "file_format": file_format}
    return client.post(reverse(IMPORT), data, follow=True)


def page_text(response) -> str:
    """What a person reads on the page: its text, without markup, styles or scripts."""
    html = re.sub(r"(?s)<head>.*?</head>|<script.*?</script>|<style.*?</style>|<svg.*?</svg>", "",
                  response.content.decode())  # fmt: skip
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def no_option(response) -> str:
    text = page_text(response)
    assert not OPTION.search(text), OPTION.search(text) and text[OPTION.search(text).start() - 200 :][:400]
    return text


def command_refusal(path: Path, *arguments: str) -> str:
    with pytest.raises(CommandError) as refused:
        call_command("sessions_import", "--from", str(path), "--format", "auto", *arguments)
    return str(refused.value)


def test_an_evcc_files_currency_and_blank_odometers_are_asked_on_its_columns_page_and_reach_the_check(
    owner_client, owner, make_car
):
    car = make_car(owner, name="Model 3")
    response = upload(owner_client, car, EVCC_DE, "evcc.csv")
    text = no_option(response)
    assert "evcc.csv: its costs (line 2) are in the currency the app was set to, which it does not say" in text
    assert "EUR and 0.86 in “Currency of its costs” and “Exchange rate”" in text
    assert "line 3 has no odometer" in text and "(“A row without an odometer”)" in text
    assert response.context["form"].asked == ["currency", "blank_odometer"] and not Job.objects.exists()
    answered = columns_form_data(response, currency="eur", rate="0.86", blank_odometer="previous")
    response = owner_client.post(response.request["PATH_INFO"], answered, follow=True)
    job = Job.objects.get()
    assert (job.options["currency"], job.options["rate"], job.options["blank_odometer"]) == ("EUR", "0.86", "previous")
    assert "costs: EUR, converted at £0.86 per EUR" in no_option(response)
    confirm(owner_client, response)
    assert car.sessions.get(date=dt.date(2026, 11, 5)).odometer == 12500  # the session before's (20117 km)


# A file, the question it raises (kind), its answer as the columns page takes it, what the check then
# says it read, and what the command line says instead (None: a row's error there, not a question).
QUESTIONS = {
    "encoding": (
        "Datum;Kilometerstand;Typ;kWh;Notizen\n25.11.2026;20117;AC;30,5;Straße\n".encode("cp1252"),
        {"encoding": "cp1252"}, "Windows-1252", "--encoding cp1252",
    ),
    "date_order": (
        "Date,Mileage,Type,kWh\n03/04/2026,12480,AC,30\n05/06/2026,12590,AC,30\n",
        {"date_order": "dmy"}, "dates day/month/year", "--date-order dmy or mdy",
    ),
    "time_zone": (
        "Date,Mileage,Type,kWh\n2026-11-25T23:30:00Z,12480,AC,30\n",
        {"time_zone": "Europe/Berlin"}, "local zone Europe/Berlin", "--timezone Europe/London",
    ),
    "currency": (
        "Date;Mileage;Type;kWh;Cost\n2026-11-25;12480;AC;30;12,00 €\n",
        {"currency": "EUR", "rate": "0.86"}, "costs: EUR, converted at £0.86 per EUR", "--currency EUR --rate 0.86",
    ),
    "blank_odometer": (
        "Date,Mileage,Type,kWh\n2026-11-25,12480,AC,30\n2026-11-26,,AC,20\n",
        {"blank_odometer": "skip"}, "1 warning", None,
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", QUESTIONS)
def test_each_question_is_asked_on_the_columns_page_in_words_and_its_answer_reaches_the_check(
    owner_client, owner, make_car, tmp_path, kind
):
    content, answer, read, option = QUESTIONS[kind]
    car = make_car(owner)
    response = upload(owner_client, car, content)
    no_option(response)
    assert response.context["form"].asked == [kind]
    columns = response.request["PATH_INFO"]
    unanswered = owner_client.post(columns, columns_form_data(response))
    assert "Answer this before the check." in no_option(unanswered) and not Job.objects.exists()
    response = owner_client.post(columns, columns_form_data(response, **answer), follow=True)
    job = Job.objects.get()
    assert all(job.options[name] == value for name, value in answer.items())
    assert job.status == Job.Status.CHECKED and read in no_option(response)
    if option:  # the command line asks the same with its option
        path = tmp_path / "log.csv"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        assert option in command_refusal(path)


def test_a_file_with_no_odometer_column_asks_for_the_rule_and_the_command_names_its_options(
    owner_client, owner, make_car, make_session, tmp_path
):
    car = make_car(owner)
    make_session(car, "2026-11-01", 12000)
    text = "Date,Type,kWh\n2026-11-25,AC,30\n"
    response = upload(owner_client, car, text)
    page = no_option(response)
    assert "log.csv has no column for the odometer" in page and "(“Which column is which”)" in page
    assert response.context["form"].asked == ["blank_odometer"]
    refused = owner_client.post(response.request["PATH_INFO"], columns_form_data(response, blank_odometer="skip"))
    assert "log.csv has no column for the odometer" in no_option(refused) and not Job.objects.exists()
    response = owner_client.post(
        response.request["PATH_INFO"], columns_form_data(response, blank_odometer="previous"), follow=True
    )
    confirm(owner_client, response)
    assert car.sessions.get(date=dt.date(2026, 11, 25)).odometer == 12000
    (tmp_path / "log.csv").write_text(text)
    said = command_refusal(tmp_path / "log.csv")
    assert "(--mapping)" in said and "(--blank-odometer previous)" in said


def test_columns_changed_so_that_they_raise_a_question_show_the_page_again_with_it(owner_client, owner, make_car):
    car = make_car(owner)
    response = upload(owner_client, car, ODD)
    chosen = columns_form_data(response, column_date="When", column_charge_delivered_kwh="Juice",
                               unit_charge_delivered_kwh="wh", charge_type_fixed="AC")  # fmt: skip
    assert response.context["form"].asked == []
    without = owner_client.post(response.request["PATH_INFO"], chosen | {"column_odometer": ""})
    assert without.context["form"].asked == ["blank_odometer"]
    assert "log.csv has no column for the odometer" in no_option(without)
    assert not Job.objects.exists()


def test_money_the_answers_cannot_convert_is_refused_under_its_field_in_words(owner_client, owner, make_car, tmp_path):
    car = make_car(owner)
    response = upload(owner_client, car, QUESTIONS["currency"][0])
    refused = owner_client.post(response.request["PATH_INFO"], columns_form_data(response, currency="EUR"))
    assert refused.context["form"].errors["rate"] == [
        "Costs in EUR need the exchange rate: how many pounds one EUR was (“Exchange rate”, e.g. 0.86), or “none” as "
        "the currency of its costs to leave the costs out."
    ]
    no_option(refused)
    response = upload(owner_client, car, ODD)  # its costs look like pounds: the currency is offered, not asked
    refused = owner_client.post(response.request["PATH_INFO"], columns_form_data(response, rate="0.86"))
    assert refused.context["form"].errors["currency"] == [
        "An exchange rate needs the currency it converts from (“Currency of its costs”)."
    ]
    no_option(refused)
    assert not Job.objects.exists()
    (tmp_path / "log.csv").write_text(ODD)
    assert "(e.g. --currency EUR --rate 0.86), or --currency none to leave" in command_refusal(
        tmp_path / "log.csv", "--currency", "EUR"
    )
    assert "(--currency EUR --rate 0.86)" in command_refusal(tmp_path / "log.csv", "--rate", "0.86")


def test_a_spreadsheet_of_unmarked_euros_may_still_say_its_currency_on_the_columns_page(owner_client, owner, make_car):
    car = make_car(owner)
    response = upload(owner_client, car, "Date,Mileage,Type,kWh,Cost\n2026-11-25,12480,AC,30,10.00\n")
    assert {"currency", "rate", "blank_odometer"} <= set(response.context["form"].fields)
    response = owner_client.post(
        response.request["PATH_INFO"], columns_form_data(response, currency="EUR", rate="0.86"), follow=True
    )
    confirm(owner_client, response)
    assert str(car.sessions.get().total_cost_gbp) == "8.60"


def test_a_teslafi_file_with_a_question_gets_a_page_of_questions_only(owner_client, owner, make_car, tmp_path):
    from .formats.test_presets import TESLAFI_POLLS

    polls = [TESLAFI_POLLS[0], *((f"{row[0][:10]}T{row[0][11:]}+01:00", *row[1:]) for row in TESLAFI_POLLS[1:])]
    car = make_car(owner)
    response = upload(owner_client, car, teslafi_file(tmp_path, polls).read_bytes(), "TeslaFi.csv")
    assert response.context["title"] == "Before the check" and not response.context["form"].rows
    assert response.context["form"].asked == ["time_zone"]
    response = owner_client.post(response.request["PATH_INFO"], {"time_zone": "Europe/London"}, follow=True)
    assert "local zone Europe/London" in no_option(response)


# --- the job's page: a question only a later row raises ------------------------------------------


def later_question_file(question_row: str) -> str:
    """PREVIEW_ROWS rows that raise no question, then `question_row`: the columns page cannot see it."""
    start = dt.date(2020, 1, 1)
    rows = [f"{start + dt.timedelta(days=day)},{1000 + day},AC,10" for day in range(PREVIEW_ROWS)]
    return "Date,Mileage,Type,kWh\n" + "\n".join([*rows, question_row]) + "\n"


def test_a_question_a_later_row_raises_is_asked_on_the_jobs_page_and_the_same_upload_checked_again(
    owner_client, owner, other_owner, make_car
):
    car = make_car(owner)
    response = upload(owner_client, car, later_question_file("03/04/2027,9000,AC,10"))
    assert response.context["form"].asked == []
    response = owner_client.post(response.request["PATH_INFO"], columns_form_data(response), follow=True)
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED and job.report["question"]["kind"] == "date_order"
    text = no_option(response)
    assert "The check of log.csv needs an answer first" in text
    assert "the dates could be day/month or month/day (line 2002" in text and "“Date order”" in text
    assert Path(job.upload).is_file()  # kept for the answer
    answer_url = reverse("admin:sessions_app_chargingsession_import_answer", args=[job.pk])
    from django.test import Client

    theirs = Client()
    theirs.force_login(other_owner)
    assert theirs.post(answer_url, {"date_order": "dmy"}).status_code == 404
    response = owner_client.post(answer_url, {"date_order": "dmy"}, follow=True)
    job.refresh_from_db()
    assert (Job.objects.count(), job.status, job.options["date_order"]) == (1, Job.Status.CHECKED, "dmy")
    assert "dates day/month/year" in no_option(response)
    confirm(owner_client, response)
    assert car.sessions.count() == PREVIEW_ROWS + 1 and car.sessions.filter(date=dt.date(2027, 4, 3)).exists()
    again = owner_client.post(answer_url, {"date_order": "mdy"}, follow=True)  # done: nothing to check again
    assert "This check asks nothing" in no_option(again) and Job.objects.get().status == Job.Status.DONE


def test_rows_without_an_odometer_found_by_the_check_offer_the_rule_on_the_jobs_page(owner_client, owner, make_car):
    car = make_car(owner)
    response = upload(owner_client, car, later_question_file("2027-01-01,,AC,10"))
    response = owner_client.post(response.request["PATH_INFO"], columns_form_data(response), follow=True)
    job = Job.objects.get()
    assert job.status == Job.Status.CHECKED and job.report["question"]["kind"] == "blank_odometer"
    text = no_option(response)
    assert "1 row(s) have no odometer (the first on line 2002)" in text and "A row without an odometer" in text
    answer_url = reverse("admin:sessions_app_chargingsession_import_answer", args=[job.pk])
    response = owner_client.post(answer_url, {"blank_odometer": "skip"}, follow=True)
    job.refresh_from_db()
    assert job.options["blank_odometer"] == "skip" and job.report["error_count"] == 0 and "question" not in job.report
    confirm(owner_client, response)
    assert car.sessions.count() == PREVIEW_ROWS


def test_a_file_imported_with_its_rows_without_an_odometer_left_out_asks_nothing_after(owner_client, owner, make_car):
    car = make_car(owner)
    response = upload(owner_client, car, later_question_file("2027-01-01,,AC,10"))
    response = owner_client.post(response.request["PATH_INFO"], columns_form_data(response), follow=True)
    done = confirm(owner_client, response, allow_partial="on")  # imported without them: nothing left to answer
    assert car.sessions.count() == PREVIEW_ROWS and "A row without an odometer" not in page_text(done)


def test_a_checked_file_goes_back_to_its_columns_page_to_change_them_and_is_checked_again(owner_client, owner,
                                                                                           make_car):  # fmt: skip
    car = make_car(owner, name="Model 3")
    response = upload(owner_client, car, EVCC_DE, "evcc.csv")
    answered = columns_form_data(response, currency="EUR", rate="0.86", blank_odometer="skip")
    response = owner_client.post(response.request["PATH_INFO"], answered, follow=True)
    assert "location from “Ladepunkt”" in no_option(response)
    again = owner_client.get(response.context["again_url"], follow=True)
    form = again.context["form"]
    assert form.asked == [] and form["currency"].value() == "EUR" and form["blank_odometer"].value() == "skip"
    assert form["column_location_label"].value() == "Ladepunkt"  # the columns as given
    changed = columns_form_data(again, column_location_label="", column_notes="Ladepunkt")
    response = owner_client.post(again.request["PATH_INFO"], changed, follow=True)
    job = Job.objects.get()  # the same job, its file checked again
    assert job.status == Job.Status.CHECKED and job.options["currency"] == "EUR"
    assert "notes from “Ladepunkt”" in no_option(response) and "location from" not in page_text(response)
    confirm(owner_client, response)
    assert car.sessions.count() == 2 and not owner_client.get(reverse(
        "admin:sessions_app_chargingsession_import_again", args=[job.pk]), follow=True).context.get("form")


# --- one message, two renderings -----------------------------------------------------------------


def test_a_refusal_the_admin_shows_names_the_field_and_the_command_the_option(owner, make_car, tmp_path):
    car = make_car(owner)
    with pytest.raises(PlugTrackError) as unused:
        charging_sessions_import(
            user=owner, car=car, source=teslafi_file(tmp_path),
            options=ImportOptions(file_format="auto", choices=ImportChoices(currency="none")),
        )  # fmt: skip
    (tmp_path / "twice.csv").write_text("Date,Day,Mileage,Type,kWh\n2026-11-25,Tue,12480,AC,30\n")
    with pytest.raises(PlugTrackError) as twice:
        charging_sessions_import(user=owner, car=car, source=tmp_path / "twice.csv",
                                 options=ImportOptions(file_format="spreadsheet"))  # fmt: skip
    for error, option, field in [(unused, "(--format spreadsheet, evcc)", "“Format” on the import page"),
                                 (twice, "(--mapping)", "(“Which column is which”)")]:  # fmt: skip
        assert option in str(error.value) and field in error.value.for_admin()
        assert not OPTION.search(error.value.for_admin())


def test_plugtracks_own_format_chosen_for_a_resaved_file_says_so_in_the_admins_words(owner_client, owner, make_car):
    car = make_car(owner)
    resaved = "date;odometer;charge_type;charge_power_kw;location_label;charge_network;charge_delivered_kwh;" \
              "duration_mins;cost_per_kwh;total_cost_gbp;soc_from;soc_to;ambient_temp_c;notes\n"  # fmt: skip
    response = upload(owner_client, car, resaved, file_format="plugtrack")
    assert "import it with “Format”: Detect it, which reads that shape" in no_option(response)


def test_no_message_of_the_import_machinery_spells_an_option_but_through_an_ask():
    """Options are named only in asks.py, so that the admin can say its fields instead: a message with
    "--currency" in its own text would reach an admin page as it is."""
    spelled = []
    for path in (REPO / "sessions_app" / "imports").rglob("*.py"):
        if path.name == "asks.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body
                      and isinstance(node.body[0], ast.Expr)}  # fmt: skip
        spelled += [f"{path.relative_to(REPO)}:{node.lineno}" for node in ast.walk(tree)
                    if isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings and OPTION.search(node.value)]  # fmt: skip
    assert not spelled, spelled


# --- the columns page: each heading with its first values ----------------------------------------


def test_the_columns_page_shows_each_headings_first_values_escaped_and_cut(owner_client, owner, make_car):
    car = make_car(owner)
    long_note = "a very long note " * 10
    text = (
        "Date,Mileage,Type,kWh,Notes\n2026-11-25,12480,AC,30,<b>bold</b>\n2026-11-26,12590,AC,31,\n"
        f'2026-11-27,12700,AC,32,"{long_note}"\n2026-11-28,12810,AC,33,four\n'
    )
    response = upload(owner_client, car, text)
    html = response.content.decode()
    assert "<b>bold" not in html and "Notes — &lt;b&gt;bold&lt;/b&gt; · a very long note a very long… · four" in html
    assert "Mileage — 12480 · 12590 · 12700</option>" in html  # three, the fourth left out
    options = dict(response.context["form"].fields["column_odometer"].choices)
    assert options["Mileage"] == "Mileage — 12480 · 12590 · 12700"


def test_a_mistake_in_the_columns_is_said_with_the_files_own_name(owner_client, owner, make_car):
    car = make_car(owner)
    response = upload(owner_client, car, ODD, name="notes-app.csv")
    refused = owner_client.post(response.request["PATH_INFO"], columns_form_data(response, column_odometer="Odo"))
    text = no_option(refused)
    assert "notes-app.csv: no column is chosen for the date and the energy (kWh)" in text and "The file" not in text
