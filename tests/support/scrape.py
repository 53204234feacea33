"""Reading a ``/metrics`` page the way Prometheus does (its own text parser)."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[str, float]:
    """Every sample of a Prometheus text page as ``name{label="value"}`` -> value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


async def scrape(url: str) -> dict[str, float]:
    """GET ``url`` (it must answer 200 in Prometheus's text format) and read its samples."""
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=")
        return samples(await answer.text())
