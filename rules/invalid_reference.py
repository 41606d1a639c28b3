"""invalid-reference: QBO fault 2500 "Invalid Reference Id": the document points at a record
QBO does not have or has made inactive, e.g. an ItemRef from the integration's product
mapping to an item that was deleted. HubSpot's UI then shows QBO's own words. From text only:
the product mapping is not readable through HubSpot's public API."""
from __future__ import annotations

from .base import Rule


class InvalidReference(Rule):
    id = "invalid-reference"
    order = 25
    fault_codes = ("2500",)
    patterns = {
        "en": (r"invalid reference id", r"something you're trying to use has been made inactive"),
    }
    TEXTS = {
        "en": {"title": "QuickBooks does not know a record the invoice points at",
               "generic": "QuickBooks Online refused the invoice because it refers to a record QuickBooks does not "
                          "have or has made inactive (often a product or service, sometimes the customer).",
               "element": "The field QuickBooks names: {element}.",
               "steps": ["In HubSpot's QuickBooks integration settings, check the product mapping of the invoice's "
                         "line items and map them to an existing, active QuickBooks product or service.",
                         "Or make the product, service or customer active again in QuickBooks."]},
        "nl": {"title": "QuickBooks kent een record niet waar de factuur naar verwijst",
               "generic": "QuickBooks Online weigerde de factuur omdat die verwijst naar een record dat QuickBooks niet "
                          "heeft of inactief heeft gemaakt (vaak een product of dienst, soms de klant).",
               "element": "Het veld dat QuickBooks noemt: {element}.",
               "steps": ["Controleer in de QuickBooks-integratie-instellingen van HubSpot de producttoewijzing van de "
                         "regelitems en wijs een bestaand, actief QuickBooks-product of -dienst toe.",
                         "Of maak het product, de dienst of de klant weer actief in QuickBooks."]},
        "es": {"title": "QuickBooks no conoce un registro al que apunta la factura",
               "generic": "QuickBooks Online rechazó la factura porque hace referencia a un registro que QuickBooks no "
                          "tiene o ha desactivado (a menudo un producto o servicio, a veces el cliente).",
               "element": "El campo que indica QuickBooks: {element}.",
               "steps": ["En la configuración de la integración de QuickBooks de HubSpot, revisa la asignación de "
                         "productos de las líneas y asígnalas a un producto o servicio activo de QuickBooks.",
                         "O vuelve a activar el producto, servicio o cliente en QuickBooks."]},
    }

    def generic_details(self, classification, lang):
        return [self.texts(lang)["element"]] if classification.extracted.get("element") else []


RULE = InvalidReference()
