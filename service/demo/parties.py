"""The demo's parties: who registers them (a registrar over SOAP, or the operator with
``temix`` admin commands beside the server) and the agents (a party each, with its own zeep
clients)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from service.config import REPO_ROOT
from service.demo.strategies import CURRENCY, HOUR, NODE


class DemoError(RuntimeError):
    """A step of the scenario the server refused, with what was sent and what came back."""


@dataclass(frozen=True)
class Offer:
    """A standing tender as a customer sees it."""

    tender_id: str
    side: str
    start: datetime
    duration: str
    quantity: Decimal
    price: Decimal | None  # None for an option (its price is the premium)
    option: dict | None = None  # the emixOption terms, as read

    def hour(self, day_start: datetime) -> int:
        return int((self.start - day_start) / HOUR)


class Operator:
    """Runs ``python -m service.cli ... [--data-dir DIR]`` beside the running server."""

    def __init__(self, data_dir: str | Path | None, env: dict[str, str] | None):
        self.data_dir = Path(data_dir) if data_dir else None
        self.env = dict(os.environ if env is None else env)
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), self.env.get("PYTHONPATH")]))

    def temix(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "service.cli", *args]
        command += ["--data-dir", str(self.data_dir)] if self.data_dir else []
        return subprocess.run(command, check=False, input=stdin, capture_output=True, text=True, env=self.env,
                              cwd=self.data_dir or None, timeout=300)

    def must(self, *args: str, stdin: str = "") -> str:
        done = self.temix(*args, stdin=stdin)
        if done.returncode != 0:
            raise DemoError(f"temix {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout.strip()

    def add_market_context(self, uri: str) -> str:
        """With the option terms and an exchange if this temix knows them; what it said."""
        base = ("market-context", "add", uri, "--currency", CURRENCY, "--energy-unit", "kWh")
        done = self.temix(*base, "--option-lead-time", "PT1H", "--option-granularity", "PT1H", "--exchange")
        if done.returncode == 2 and "unrecognized arguments" in done.stderr:
            return self.must(*base) + " (this temix has no option terms)"
        if done.returncode != 0:
            raise DemoError(f"temix market-context add {uri} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def add_party(self, party_id: str, password: str, market_context: str, group: str) -> str:
        return self.must("party", "add", party_id, "--password-stdin", "--market-context", market_context,
                         "--group", group, stdin=password + "\n")

    def finish(self) -> None:
        """The demo's own market context keeps its parties: nothing to undo."""


class Registrar:
    """A registrar's zeep client on /EiRegistration: registers the demo's parties with their
    first passwords (the server must allow it: TEMIX_ALLOW_REGISTRAR_PASSWORDS=1), and
    cancels those registrations at the end, so the shared market context does not grow."""

    def __init__(self, base_url: str, registrar_id: str, password: str):
        self.registrar_id = registrar_id
        self.client = _client(base_url, "EiRegistration", registrar_id, password)
        self.made: list[tuple[str, str]] = []  # (party, registrationID)

    def add_party(self, party_id: str, password: str, market_context: str, group: str) -> str:
        from zeep.exceptions import Fault

        from service.client import substitute

        info = substitute(self.client, "temix:registrationInfo", marketContext=[market_context], group=[group],
                          initialPassword=password)
        try:
            reply = self.client.service.EiCreatePartyRegistration(
                requestID=new_id("req"), registreePartyID=party_id, eiRegistrationInfo=info)
        except Fault as fault:
            raise DemoError(f"the server refused registrar {self.registrar_id!r}: {fault.message}"
                            " (is it a registrar? `temix party add-registrar ID` on the server's host"
                            " makes one and prints its password)") from fault
        code, description = reply.eiResponse.responseCode, reply.eiResponse.responseDescription
        if code == "403" and "TEMIX_ALLOW_REGISTRAR_PASSWORDS" in (description or ""):
            raise DemoError(
                "the server does not let registrars create parties' passwords over SOAP, which this demo needs:"
                " restart it with TEMIX_ALLOW_REGISTRAR_PASSWORDS=1 (or `temix serve --allow-registrar-passwords`;"
                " only behind TLS outside a test machine), or run the demo with the server's --data-dir instead")
        if code == "462":
            raise DemoError(
                f"market context {market_context} is not registered on the server: on its host run once"
                f" `temix market-context add {market_context} --currency {CURRENCY} --energy-unit kWh"
                " --option-lead-time PT1H --option-granularity PT1H`, or give the demo --market-context URI")
        if code != "200":
            raise DemoError(f"EiCreatePartyRegistration of {party_id} by {self.registrar_id}: {code} {description}")
        self.made.append((party_id, reply.registrationID))
        return f"registered {party_id} in {market_context}, group {group} ({reply.registrationID})"

    def finish(self) -> None:
        """EiCancelPartyRegistration of each registration made: later distributions in the
        market context no longer reach the demo's parties."""
        for party_id, registration_id in self.made:
            reply = self.client.service.EiCancelPartyRegistration(
                requestID=new_id("req"), registreePartyID=party_id, registrarPartyID=self.registrar_id,
                registrationID=[registration_id])
            code = reply.eiResponse[0].responseCode if reply.eiResponse else "?"
            if code != "200":
                print(f"  !! could not cancel registration {registration_id} of {party_id}: {code}")
        if self.made:
            print(f"  registrar {self.registrar_id}: cancelled the {len(self.made)} registrations of this run")
        self.made = []


# --- the parties: zeep clients ---------------------------------------------------------------


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _ok(reply, what: str, sent: dict) -> None:
    code = reply.eiResponse.responseCode
    if code != "200":
        raise DemoError(f"{what}: sent {_brief(sent)}; got {code} {reply.eiResponse.responseDescription}")


def _brief(sent: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sent.items() if k in ("partyID", "counterPartyID", "requestID"))


def _client(base_url: str, endpoint: str, party_id: str, password: str):
    """A zeep client of one endpoint: strict, WS-Security PasswordDigest, SubstitutionPlugin."""
    # zeep is imported here, not at the top: `temix` imports this module to build its parser.
    import zeep
    from zeep.wsse.username import UsernameToken

    from service.client import SubstitutionPlugin

    return zeep.Client(f"{base_url}/{endpoint}?wsdl", settings=zeep.Settings(strict=True),
                       wsse=UsernameToken(party_id, password, use_digest=True), plugins=[SubstitutionPlugin()])


class Agent:
    """A party with its own zeep clients. Its distributions reach its ``group`` only."""

    def __init__(self, base_url: str, party_id: str, password: str, market_context: str, group: str):
        self.party_id, self.market_context, self.group = party_id, market_context, group
        self.tenders, self.transactions, self.quotes = (
            _client(base_url, endpoint, party_id, password) for endpoint in ("EiTender", "EiTransaction", "EiQuote")
        )

    def _call(self, client, operation: str, _soapheaders=None, as_party: bool = True, **body):
        """``as_party``: the payload names the sender as ei:partyID (some name only a requestor)."""
        body = {"requestID": new_id("req"), **({"partyID": self.party_id} if as_party else {}), **body}
        extra = {} if _soapheaders is None else {"_soapheaders": _soapheaders}
        reply = getattr(client.service, operation)(**body, **extra)
        _ok(reply, f"{operation} by {self.party_id}", body)
        return reply

    def product(self, client, *, start: datetime, duration: str, side: str, state: str, quantity: Decimal,
                price: Decimal | None = None, option: dict | None = None, expires: datetime | None = None):
        """An emix:product (power at NODE), or an emix:emixOption on it when ``option`` is given."""
        from service.client import substitute

        power = substitute(
            client, "power:temixPower", emixInterface=substitute(client, "power:pnode", node=NODE),
            price=None if price is None else {"value": price}, quantity=quantity,
            powerItem=substitute(client, "power:powerReal", itemDescription="RealPower", itemUnits="W",
                                 siScaleCode="k", powerAttributes={"hertz": 60, "voltage": 240, "ac": True}),
        )
        common = {"dtStart": {"dateTime": start}, "duration": duration, "streamPayloadBase": power,
                  "uid": new_id("product"), "transactiveState": state, "expirationDate": expires,
                  "currency": CURRENCY, "marketContext": self.market_context, "side": side}
        if option is None:
            return substitute(client, "emix:product", **common)
        return substitute(client, "emix:emixOption", **common, **option)

    def distribute(self, offers: list[tuple[str, object]]) -> int:
        """EiDistributeTender to this run's group (the market context may be shared); how
        many parties it reached."""
        from lxml import etree

        from service.soap.ns import TEMIX, q

        scope = etree.Element(q(TEMIX, "distributionScope"), nsmap={"temix": TEMIX})
        etree.SubElement(scope, q(TEMIX, "group")).text = self.group
        reply = self._call(self.tenders, "EiDistributeTender", _soapheaders=[scope],
                           eiTender=[{"tenderID": t, "emixBase": p} for t, p in offers])
        return int(reply.recipientCount)

    def create_tender(self, counterparty: str, tender_id: str, product) -> None:
        self._call(self.tenders, "EiCreateTender", counterPartyID=counterparty,
                   eiTender=[{"tenderID": tender_id, "emixBase": product}])

    def create_orders(self, exchange: str, items: list[dict]) -> str:
        """EiCreateTender of these ei:eiTender items to the exchange: what filled at once, as
        its response description says."""
        reply = self._call(self.tenders, "EiCreateTender", counterPartyID=exchange, eiTender=items)
        return reply.eiResponse.responseDescription

    def cancel(self, tender_ids: list[str]) -> None:
        self._call(self.tenders, "EiCancelTender", tenderID=tender_ids)

    def book(self, day_start: datetime) -> list:
        """EiRequestBook: the best price of each side of each book at NODE over the day."""
        from service.client import substitute

        reply = self._call(self.tenders, "EiRequestBook", as_party=False, requestorPartyID=self.party_id,
                           marketContext=self.market_context, productKind="energy",
                           emixInterface=substitute(self.tenders, "power:pnode", node=NODE),
                           window={"dtStart": {"dateTime": day_start}, "duration": "PT24H"}, depth=1)
        return list(reply.book or ())

    def transactions_with(self, counterparty: str) -> list:
        reply = self._call(self.transactions, "EiRequestTransaction", requestorPartyID=self.party_id,
                           counterPartyID=[counterparty], marketContext=[self.market_context])
        return list(reply.eiTransaction or ())

    def trade_prices(self) -> list:
        """EiRequestQuote from the market context: the trade prices it publishes."""
        reply = self._call(self.quotes, "EiRequestQuote", as_party=False, requestorPartyID=self.party_id,
                           publisherPartyID=self.market_context, marketContext=[self.market_context])
        return list(reply.eiQuote or ())

    def standing_offers(self, maker: str) -> list[Offer]:
        """EiRequestTender: the maker's standing tenders in our market context (our own, if
        the maker is the exchange we sent them to)."""
        reply = self._call(self.tenders, "EiRequestTender", requestorPartyID=self.party_id,
                           counterPartyID=[maker], marketContext=[self.market_context])
        return [_offer(t) for t in reply.eiTender or ()]

    def accept(self, maker: str, taken: list[tuple[Offer, Decimal]]) -> list[str]:
        """EiCreateTransaction: each offer for the given rate, on the opposite side, all or none."""
        if not taken:
            return []
        items = []
        for offer, kw in taken:
            other = "buy" if offer.side == "sell" else "sell"
            product = self.product(self.transactions, start=offer.start, duration=offer.duration, side=other,
                                   state="transaction", quantity=kw, price=offer.price, option=offer.option)
            items.append({"transactionID": new_id("txn"), "tenderID": offer.tender_id, "emixBase": product})
        reply = self._call(self.transactions, "EiCreateTransaction", counterPartyID=maker, eiTransaction=items)
        return list(reply.transactionID)

    def exercise(self, writer: str, option_transaction_id: str, calls: list[tuple[datetime, Decimal]]) -> list[str]:
        """EiExerciseOption: one PT1H sub-interval per call."""
        exercises = [{"transactionID": new_id("call"), "dtStart": {"dateTime": start}, "duration": "PT1H",
                      "quantity": kw} for start, kw in calls]
        reply = self._call(self.transactions, "EiExerciseOption", counterPartyID=writer,
                           optionTransactionID=option_transaction_id, exercise=exercises)
        return list(reply.transactionID or ())

    def positions(self, day_start: datetime) -> list:
        reply = self._call(self.transactions, "EiRequestPosition", requestorPartyID=self.party_id,
                           marketContext=[self.market_context],
                           window={"dtStart": {"dateTime": day_start}, "duration": "PT24H"}, resolution="PT1H")
        return list(reply.position or ())

    def option_transactions(self) -> list:
        reply = self._call(self.transactions, "EiRequestTransaction", requestorPartyID=self.party_id,
                           marketContext=[self.market_context])
        return [t for t in reply.eiTransaction or () if type(t.emixBase).__name__ == "EmixOptionType"]


def _offer(tender) -> Offer:
    base = tender.emixBase
    power = base.streamPayloadBase
    option = None
    if type(base).__name__ == "EmixOptionType":
        option = {"optionHolderSide": base.optionHolderSide, "optionPremium": {"value": base.optionPremium.value},
                  "optionStrikePrice": {"value": base.optionStrikePrice.value}, "optionType": base.optionType}
    price = power.price.value if option is None and power.price is not None else None
    return Offer(tender.tenderID, base.side, base.dtStart.dateTime, str(base.duration),
                 Decimal(str(power.quantity)), price, option)

