"""The schema set, compiled once at start-up, and validation of every message in and out.

The set is one swappable folder (``schemas/oasis``) with one entry schema (``cts-all.xsd``);
our extension schema (``schemas/temix-ext.xsd``) is loaded beside it. lxml is used on the
request path; xmlschema is two orders of magnitude slower and stays in tests.
"""

from pathlib import Path

from lxml import etree

from service.soap.faults import SchemaValidationFault

EXTENSION_SCHEMA = "temix-ext.xsd"


class ResponseInvalidError(Exception):
    """A response we built does not validate: a bug of ours, never sent to the client."""


class SchemaSet:
    """The compiled schemas: validates a payload element (the SOAP Body's child)."""

    def __init__(self, schema_dir: Path, entry: str = "oasis/cts-all.xsd"):
        self.schema_dir = Path(schema_dir).resolve()
        entry_path = (self.schema_dir / entry).as_uri()
        extension_path = (self.schema_dir / EXTENSION_SCHEMA).as_uri()
        # The entry schema goes first: XSD 1.0 honours only the first import of a namespace.
        driver = etree.fromstring(
            f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
              <xs:include schemaLocation="{entry_path}"/>
              <xs:import namespace="urn:temix:ei-ext:2026-11" schemaLocation="{extension_path}"/>
            </xs:schema>""".encode(),
            base_url=(self.schema_dir / "driver.xsd").as_uri(),
        )
        self._schema = etree.XMLSchema(driver)

    def errors(self, element: etree._Element) -> list[str]:
        """Every validation error, each with the element path and line."""
        if self._schema.validate(element):
            return []
        return [
            f"{error.message} (at {error.path}, line {error.line})"
            for error in self._schema.error_log
        ]

    def check_request(self, element: etree._Element) -> None:
        errors = self.errors(element)
        if errors:
            raise SchemaValidationFault("Schema-invalid payload: " + "; ".join(errors[:5]))

    def check_response(self, element: etree._Element) -> None:
        errors = self.errors(element)
        if errors:
            raise ResponseInvalidError("; ".join(errors[:5]))
