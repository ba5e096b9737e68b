"""The settings registry: every key a user can set, with its type, default, bounds and tab.

Values are stored as text (`Setting.value`); `SettingDefinition.parse` turns that text into a
typed value and is the one place where a value is validated, for the admin form, the seed and
any future API alike.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

MAX_URL_CHARS = 2000


class Tab(StrEnum):
    EFFICIENCY = "Efficiency"
    HOME_DETECTION = "Home Detection"
    PETROL_BASELINE = "Petrol Baseline"
    ADVANCED = "Advanced"


class Kind(StrEnum):
    DECIMAL = "decimal"
    WORD_LIST = "word list"
    BOOL = "bool"
    TEXT = "text"
    URL = "url"  # an http(s) address, or blank for none


@dataclass(frozen=True)
class SettingDefinition:
    key: str
    kind: Kind
    default: str
    label: str
    help_text: str
    tab: Tab
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    step: Decimal | None = None
    secret: bool = False
    may_be_empty: bool = False  # a word list that may have no words at all

    def parse(self, text: str):
        """Turn stored or submitted text into a typed value, or raise ValidationError."""
        text = text.strip()
        if self.kind is Kind.DECIMAL:
            return self._parse_decimal(text)
        if self.kind is Kind.WORD_LIST:
            if not text and self.may_be_empty:
                return []
            words = [word.strip() for word in text.split(",")]
            if not text or any(not word for word in words):
                raise ValidationError(
                    f'{self.label}: give a comma-separated list of words with none empty, e.g. "{self.default}".'
                )
            return words
        if self.kind is Kind.BOOL:
            if text not in ("0", "1"):
                raise ValidationError(f'{self.label}: must be 1 (on) or 0 (off), not "{text}".')
            return text == "1"
        if self.kind is Kind.URL:
            return self._parse_url(text)
        return text

    def shown(self, text: str) -> str:
        """Stored text as a person reads it ("on", "home, house, garage"); never for a secret's value."""
        try:
            value = self.parse(text)
        except ValidationError:
            return text.strip()
        if self.kind is Kind.BOOL:
            return "on" if value else "off"
        if self.kind is Kind.WORD_LIST:
            return ", ".join(value) or "none"
        return str(value) or "blank"

    def serialize(self, value) -> str:
        """The stored text for a typed value (the inverse of `parse`)."""
        if self.kind is Kind.WORD_LIST:
            return ",".join(value)
        if self.kind is Kind.BOOL:
            return "1" if value else "0"
        return str(value)

    def _parse_url(self, text: str) -> str:
        """An http:// or https:// address with a host, or "" (none). The message never repeats the value:
        it may be a secret."""
        if not text:
            return ""
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError for a port that is not one
        except ValueError:
            parts = None
        if (
            parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or len(text) > MAX_URL_CHARS or any(character.isspace() for character in text)
        ):  # fmt: skip
            raise ValidationError(
                f"{self.label}: give a web address starting with http:// or https:// and a host, at most "
                f"{MAX_URL_CHARS} characters without spaces, e.g. https://homeassistant.local:8123/api/webhook/plugtrack."
            )
        return text

    def _parse_decimal(self, text: str) -> Decimal:
        """One message for one mistake: the first of not a number, out of bounds, finer than the step."""
        bounds = f"between {self.minimum} and {self.maximum}"
        if not text:
            raise ValidationError(f"{self.label}: give a number {bounds}.")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValidationError(f'{self.label}: "{text}" is not a number; give one {bounds}.') from None
        if not value.is_finite() or not (self.minimum <= value <= self.maximum):
            raise ValidationError(f"{self.label}: must be {bounds}, not {text}.")
        if value % self.step:
            raise ValidationError(f"{self.label}: give it in steps of {self.step}, not {text}.")
        return value


def _decimal(key, default, label, help_text, tab, minimum, maximum, step="0.1") -> SettingDefinition:
    return SettingDefinition(
        key=key,
        kind=Kind.DECIMAL,
        default=default,
        label=label,
        help_text=help_text,
        tab=tab,
        minimum=Decimal(minimum),
        maximum=Decimal(maximum),
        step=Decimal(step),
    )


# The UK's public networks as owners' apps and receipts name them (a home energy tariff is none of them).
PUBLIC_NETWORKS = (
    "ChargePlace Scotland", "IONITY", "GRIDSERVE", "InstaVolt", "Osprey", "bp pulse", "Pod Point",
    "Tesla Supercharger", "Shell Recharge", "Fastned", "ubitricity", "Connected Kerbs", "char.gy", "Source London",
    "GeniePoint", "MFG EV Power", "Be.EV", "Believ", "Mer", "ESB Energy", "Evyve", "Electric Highway",
)  # fmt: skip

SETTINGS: dict[str, SettingDefinition] = {
    definition.key: definition
    for definition in [
        _decimal(
            "default_efficiency_mpkwh",
            "4.1",
            "Default efficiency (mi/kWh)",
            "Used for a car without enough data of its own and without a nominal figure.",
            Tab.EFFICIENCY,
            "0.5",
            "10",
        ),
        SettingDefinition(
            key="home_aliases_csv",
            kind=Kind.WORD_LIST,
            default="home,house,garage",
            label="Home location words",
            help_text="A session is at home when its location contains one of these as a whole word "
            '("Home driveway" matches "home", "Homebase" does not). Comma-separated.',
            tab=Tab.HOME_DETECTION,
        ),
        SettingDefinition(
            key="public_networks_csv",
            kind=Kind.WORD_LIST,
            default=",".join(PUBLIC_NETWORKS),
            label="Public charging networks",
            help_text="A session on one of these networks is public, whatever its location says (a charger at "
            '"Dundee House" is not your house). Matched as whole words, any case. Comma-separated; may be empty.',
            tab=Tab.HOME_DETECTION,
            may_be_empty=True,
        ),
        SettingDefinition(
            key="not_home_places_csv",
            kind=Kind.WORD_LIST,
            default="",
            label="Places that are not home",
            help_text="When most of a car's energy is charged at a place that is neither one of your home words nor "
            'public, PlugTrack asks "Is Carport your home?". The places you answered "no" are kept here and not '
            "asked about again; remove one to be asked again. Comma-separated; may be empty.",
            tab=Tab.HOME_DETECTION,
            may_be_empty=True,
        ),
        _decimal(
            "home_charging_speed_kw",
            "2.3",
            "Home charging power (kW)",
            "Assumed power of a home session whose power is blank (2.3 kW is a 3-pin plug).",
            Tab.HOME_DETECTION,
            "1",
            "50",
        ),
        _decimal(
            "petrol_price_p_per_litre",
            "128.9",
            "Petrol price (p/litre)",
            "What a litre of petrol costs you, for the comparison.",
            Tab.PETROL_BASELINE,
            "50",
            "500",
        ),
        _decimal(
            "petrol_mpg",
            "60.0",
            "Petrol car economy (UK mpg)",
            "Miles per imperial gallon of the petrol car you compare against.",
            Tab.PETROL_BASELINE,
            "10",
            "200",
        ),
        SettingDefinition(
            key="allow_efficiency_fallback",
            kind=Kind.BOOL,
            default="1",
            label="Allow efficiency fallback",
            help_text="Without enough data (50 miles and 20 kWh after the baseline), use the car's nominal "
            'figure, then the default efficiency. Off: show "not enough data" instead.',
            tab=Tab.ADVANCED,
        ),
        _decimal(
            "max_price_per_kwh",
            "2.00",
            "Most a kWh can cost (£)",
            "A price per kWh above this, or a total cost above the energy at this price, is refused as impossible "
            "(typed in pence?). Sessions stored earlier that break it are kept, marked \"check\".",
            Tab.ADVANCED,
            "0.10",
            "20",
            step="0.01",
        ),
        SettingDefinition(
            key="notification_url",
            kind=Kind.URL,
            default="",
            label="Notification URL (secret)",
            help_text="PlugTrack POSTs signed JSON events to this address (a webhook): sessions added, imports "
            "finished, scheduled backups verified or failed; the signing secret and the last deliveries are below "
            "the form (docs/webhooks.md). Blank: none are sent. Stored encrypted; never shown again.",
            tab=Tab.ADVANCED,
            secret=True,
        ),
    ]
}
