"""The request account, its metrics and its JSON log line, without a server or a database."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from service.config import REPO_ROOT, Settings, SettingsError
from service.observe import Exchange, closed, current, opened
from service.observe.logs import REQUEST_LOGGER, JsonFormatter, RequestLog
from service.pipeline import PAYLOADS, TABLE

TAGS = {operation.name: operation.request for operation in TABLE}


def test_the_account_is_the_current_one_only_while_opened():
    exchange = Exchange("EiTender")
    token = opened(exchange)
    current().party = "rep-1"
    closed(token)
    assert exchange.party == "rep-1"
    current().party = "someone"  # outside a request: a throwaway account
    assert exchange.party == "rep-1"


def test_metrics_count_each_operation_of_the_table_by_code_and_fault():
    from service.observe.metrics import Metrics

    metrics = Metrics(PAYLOADS)
    for code in ("200", "200", "404"):
        metrics.record(Exchange("EiTender", TAGS["EiCreateTender"], code=code), 0.002)
    metrics.record(Exchange("EiTender", fault="Client.MalformedXml"), 0.001)
    text = metrics.exposition()[0].decode()
    assert 'temix_requests_total{code="200",fault="",operation="EiCreateTender"} 2.0' in text
    assert 'temix_requests_total{code="404",fault="",operation="EiCreateTender"} 1.0' in text
    assert 'temix_requests_total{code="",fault="Client.MalformedXml",operation="unknown"} 1.0' in text
    assert 'temix_request_duration_seconds_count{operation="EiCreateTender"} 3.0' in text


def test_a_json_line_holds_the_request_account_and_nothing_else():
    written = io.StringIO()
    request_logger = logging.getLogger(REQUEST_LOGGER)
    level, request_logger.level = request_logger.level, logging.INFO
    try:
        exchange = Exchange("EiTender", TAGS["EiCreateTender"], "rep-1", "r-1", code="200")
        RequestLog(PAYLOADS, written).record(exchange, 0.0031)
        request_logger.setLevel(logging.WARNING)  # TEMIX_LOG_LEVEL=WARNING: no request lines
        RequestLog(PAYLOADS, written).record(exchange, 0.0031)
    finally:
        request_logger.setLevel(level)
    [text] = written.getvalue().splitlines()
    line = json.loads(text)
    assert line.pop("time").endswith("Z") and line.pop("worker") == os.getpid()
    assert line == {
        "level": "INFO", "logger": REQUEST_LOGGER, "message": "EiCreateTender 200", "operation": "EiCreateTender",
        "endpoint": "EiTender", "party": "rep-1", "requestID": "r-1", "responseCode": "200", "duration_ms": 3.1,
    }


def test_a_refused_request_line_names_its_fault_and_no_party():
    written = io.StringIO()
    request_logger = logging.getLogger(REQUEST_LOGGER)
    level, request_logger.level = request_logger.level, logging.INFO
    try:
        RequestLog(PAYLOADS, written).record(Exchange("EiTender", fault="Client.MalformedXml"), 0.001)
    finally:
        request_logger.setLevel(level)
    line = json.loads(written.getvalue())
    assert (line["operation"], line["fault"], line["party"], line["requestID"]) == ("unknown", "Client.MalformedXml", None, None)
    assert "responseCode" not in line


def test_a_json_line_escapes_newlines_so_each_record_is_one_line():
    record = logging.LogRecord("temix", logging.WARNING, __file__, 1, "two\nlines", (), None)
    formatted = JsonFormatter().format(record)
    assert "\n" not in formatted and json.loads(formatted)["message"] == "two\nlines"


def test_the_log_format_is_plain_or_json():
    assert Settings.from_env(environ={}, data_dir="/tmp/x").log_format == "plain"
    assert Settings.from_env(environ={"TEMIX_LOG_FORMAT": "JSON"}, data_dir="/tmp/x").log_format == "json"
    with pytest.raises(SettingsError, match="TEMIX_LOG_FORMAT"):
        Settings.from_env(environ={"TEMIX_LOG_FORMAT": "xml"}, data_dir="/tmp/x")


def test_serving_does_not_import_prometheus_client_before_its_metrics_folder_is_named():
    """prometheus_client picks one process or many when imported: `temix serve` names the
    folder first, so neither the command nor the app module may import it on their own."""
    code = "import sys, service.cli, service.app, service.front.granian_server; print('prometheus_client' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert done.stdout.strip() == "False"


def test_a_run_s_metrics_folder_is_its_own_and_the_folders_of_killed_runs_go():
    from service.observe.folder import MULTIPROC_VARIABLE, PREFIX, metrics_folder, parent_folder

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    parent = Path(parent_folder() or tempfile.gettempdir())
    left = parent / f"{PREFIX}{int(ended.stdout)}-left"  # a serve killed outright left it
    running = parent / f"{PREFIX}{os.getpid()}-running"  # a serve still running
    left.mkdir()
    running.mkdir()
    try:
        with metrics_folder() as folder:
            assert os.environ[MULTIPROC_VARIABLE] == str(folder) and folder.is_dir()
            assert not left.exists() and running.exists()
        assert not folder.exists() and MULTIPROC_VARIABLE not in os.environ
    finally:
        shutil.rmtree(left, ignore_errors=True)
        shutil.rmtree(running, ignore_errors=True)
