"""A REP's dynamic pricing, run against a real server: ``temix demo`` and
``examples/rep_dynamic_pricing.py``.

One delivery day (default: tomorrow, UTC), in a market context of its own:

1. Four parties are registered, in one group of the run's own (the REP's tenders reach it
   only), in one of two ways:

   * by a registrar over SOAP (``--registrar ID`` and its password): EiCreatePartyRegistration
     with each party's first password, in a market context the server's operator registered
     (``DEMO_MARKET_CONTEXT`` by default); the registrations are cancelled at the end. The
     server must let registrars set passwords (TEMIX_ALLOW_REGISTRAR_PASSWORDS=1); the demo
     says so if it does not. Nothing but ``--url`` and the registrar's credentials is needed;
   * by the operator with ``temix`` admin commands, in a market context of the run's own: the
     demo must then reach the server's database and key, the same ``--data-dir`` (or
     ``DATABASE_URL`` and ``TEMIX_SECRET_KEY_FILE``) as the server.

   Every name ends with a run id, so the demo can run again and again against one server.
2. The REP distributes (EiDistributeTender) 24 hourly sell tenders at a daily price shape, and
   24 buy tenders a spread below them: a two-sided retail price. The customers share each
   tender, first come first served.
3. The REP offers the thermostat a price cap: a call option on the evening hours
   (EiCreateTender with an emix:emixOption).
4. Three customer agents, each with its own zeep clients, read the tenders (EiRequestTender)
   and accept what their strategy wants (EiCreateTransaction, part of the tendered rate):

   * thermostat: 2 kW in every hour cheaper than its threshold, and always in the comfort
     hours the cap covers; it buys the cap (accepts the option, paying its premium) if the
     cap saves more than it costs, and exercises it (EiExerciseOption) in the hours whose
     tender is above the strike instead of accepting the tender;
   * battery: buys 5 kW in the 4 cheapest hours and sells 5 kW in the 3 dearest ones, by
     accepting the REP's buy tenders (accepting a buy tender makes the acceptor the seller);
   * EV charger: 30 kWh before 07:00, at most 7.2 kW, in the cheapest hours first.

5. Each party's positions (EiRequestPosition over the day, PT1H) and costs are printed, and
   each party's position profile is drawn to ``OUT/<party>.png``.
6. The day after, the same parties trade through the market context's exchange
   (``service.demo.exchange``): the REP posts its two prices as orders, each customer reads
   the book (EiRequestBook) and posts orders at its best prices, which fill at once; the fills
   and the published trade prices (EiRequestQuote) are printed.

Why buy tenders for the battery rather than a tender of its own to the REP: with a two-sided
price every customer only reads and accepts, the REP needs no acceptance policy of its own,
and the TeMIX rule does the rest (the acceptor takes the opposite side of a tender).

The options step is reported and skipped, not fatal, when the server does not support options,
and so is the exchange day when the market context runs no exchange.
"""

from service.demo.parties import DemoError
from service.demo.report import DemoResult
from service.demo.scenario import DEMO_MARKET_CONTEXT, add_arguments, main, registrar_of
from service.demo.strategies import (
    BUY_BACK_SPREAD,
    CAP_STRIKE,
    SELL_PRICES,
    THERMOSTAT_THRESHOLD,
)

__all__ = [
    "BUY_BACK_SPREAD",
    "CAP_STRIKE",
    "DEMO_MARKET_CONTEXT",
    "SELL_PRICES",
    "THERMOSTAT_THRESHOLD",
    "DemoError",
    "DemoResult",
    "add_arguments",
    "main",
    "registrar_of",
]
