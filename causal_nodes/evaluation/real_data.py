"""Real datasets with known structure, read from ``../shared/datasets`` (see its README), for benchmarks and tests.

* **River discharge** (LPCMCI paper, section 5): daily mean discharge of the Iller at Kempten, the Danube at
  Dillingen and the Isar at Lenggries, 2017-2019. The Iller flows into the Danube upstream of Dillingen
  (Kempten -> Dillingen at lag 0-1 day); the Isar joins downstream (no direct link); rain drives all three, and is
  not observed -- so links between the mountain rivers should come out as confounded (``<->``) under LPCMCI.
* **Walker circulation** (tigramite's climate case study): monthly WPAC, WCPAC, CPAC indices, binned to two
  months, detrended by a Gaussian kernel of 15 years, anomalies (seasonal mean removed, divided by the seasonal
  standard deviation); the mask keeps, as effects, only November-February of neutral or La Nina winters (Nino3.4
  3-month running mean above 0.5 K for at least 5 of 9 months = El Nino), used with ``mask_type='y'``. The
  assumed graph of the case study is :data:`WALKER_GRAPH`.

The preprocessing follows the case study's published description; the code is this project's own.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RIVER_STATIONS = ("Dillingen", "Kempten", "Lenggries")
WALKER_FILES = {"WPAC": "iera5_w700_130-150E_20-0N_n.dat", "WCPAC": "iera5_u10m_160-180E_5--5N_n.dat",
                "CPAC": "iera5_w700_-160--120E_5--5N_n.dat"}
WALKER_GRAPH = frozenset({("WCPAC", "WPAC", 0), ("WCPAC", "WPAC", 1), ("CPAC", "WCPAC", 0), ("WPAC", "CPAC", 2),
                          ("WCPAC", "WCPAC", 1), ("CPAC", "CPAC", 1)})
"""The case study's assumed time-series graph (source, target, lag), bimonthly steps, tau_max 2."""
WALKER_START, WALKER_END = 1950, 2022  # months from January 1950 up to December 2021
BIMONTHS_PER_YEAR = 6
TREND_YEARS = 15
EL_NINO_K = 0.5


@dataclass
class RealData:
    names: list[str]
    values: np.ndarray
    mask: np.ndarray | None = None
    """True = not usable as an effect sample (tigramite's mask, with mask_type 'y')."""


def river_discharge(folder: str | Path) -> RealData:
    """Daily mean discharge [m^3/s] of the three stations on the days all three report."""
    folder = Path(folder) / "river_discharge"
    series = [_gkd_daily_means(folder / f"data_{station.lower()}.csv") for station in RIVER_STATIONS]
    days = sorted(set.intersection(*(set(s) for s in series)))
    return RealData(list(RIVER_STATIONS), np.array([[s[day] for s in series] for day in days]))


def _gkd_daily_means(path: Path) -> dict[str, float]:
    """``Datum;Mittelwert;...`` rows of a Bavarian GKD export (decimal commas, metadata lines first)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    starts = [k for k, line in enumerate(lines) if line.startswith("Datum;")]
    if not starts:
        raise ValueError(f"{path}: no 'Datum;Mittelwert;...' header")
    out: dict[str, float] = {}
    for line in lines[starts[0] + 1:]:
        cells = line.split(";")
        if len(cells) > 1 and cells[1].strip():
            out[cells[0]] = float(cells[1].replace(",", "."))
    return out


def walker_circulation(folder: str | Path) -> RealData:
    """The case study's preprocessed bimonthly series and its mask."""
    folder = Path(folder) / "climate_walker"
    months = 12 * (WALKER_END - WALKER_START)
    monthly = np.column_stack([_climexp_months(folder / name)[:months] for name in WALKER_FILES.values()])
    binned = _bin(monthly, 2)
    detrended = binned - gaussian_smooth(binned, TREND_YEARS * BIMONTHS_PER_YEAR)
    values = anomalies(detrended, BIMONTHS_PER_YEAR)
    el_nino = _bin(el_nino_months(_nino34(folder / "iersst_nino3.4a.txt", months)), 2) >= 0.5
    season = np.arange(len(values)) % BIMONTHS_PER_YEAR
    usable = np.isin(season, (0, 5)) & ~el_nino  # Jan-Feb and Nov-Dec of neutral / La Nina winters
    return RealData(list(WALKER_FILES), values, np.repeat(~usable[:, None], len(WALKER_FILES), axis=1))


def _climexp_months(path: Path) -> np.ndarray:
    """``year v1..v12`` rows after ``#`` comments -> monthly values (-999.9 = missing -> NaN)."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    values = np.array([[float(v) for v in row[1:13]] for row in rows]).reshape(-1)
    values[values <= -999.0] = np.nan
    return values


def _nino34(path: Path, months: int) -> np.ndarray:
    """Monthly Nino3.4 anomalies from January of WALKER_START (rows ``fractional_year value``)."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    times = np.array([float(row[0]) for row in rows])
    values = np.array([float(row[1]) for row in rows])
    first = int(np.argmin(np.abs(times - WALKER_START)))
    return values[first:first + months]


def _bin(values: np.ndarray, length: int) -> np.ndarray:
    """Means of consecutive blocks of ``length`` samples."""
    usable = (len(values) // length) * length
    return values[:usable].reshape(usable // length, length, *values.shape[1:]).mean(axis=1)


def gaussian_smooth(values: np.ndarray, width: float) -> np.ndarray:
    """Kernel-weighted mean with weights ``exp(-(dt / width)^2)`` (tigramite's ``smooth``: width = 2 sigma)."""
    t = np.arange(len(values))
    weights = np.exp(-((t[:, None] - t[None, :]) / width) ** 2)
    return weights @ values / weights.sum(axis=1, keepdims=True)


def anomalies(values: np.ndarray, cycle: int) -> np.ndarray:
    """Each position of the seasonal cycle minus its mean, divided by its standard deviation."""
    out = np.array(values, dtype=np.float64)
    for k in range(cycle):
        out[k::cycle] = (out[k::cycle] - out[k::cycle].mean(axis=0)) / out[k::cycle].std(axis=0)
    return out


def el_nino_months(nino34: np.ndarray) -> np.ndarray:
    """1 where the 3-month running mean exceeds EL_NINO_K for at least 5 of the 9 months centred there."""
    running = np.array([nino34[max(0, t - 1):t + 2].mean() for t in range(len(nino34))])
    warm = running > EL_NINO_K
    return np.array([float(warm[max(0, t - 4):t + 5].sum() >= 5) for t in range(len(nino34))])


def river_verdict(links: Sequence) -> dict[str, bool]:
    """What the LPCMCI paper reports, checked on a result's links (``source, target, lag, link_type``).

    ``kempten_to_dillingen``: Kempten(t - 0 or 1) -> Dillingen(t) with a mark that does not make Dillingen a cause
    of Kempten (``-->`` or ``o->``). ``rain_confounded``: Lenggries is adjacent to Kempten, and every adjacency
    of Lenggries is marked confounded (``<->``). ``no_isar_to_danube``: no directed link Lenggries -> Dillingen.
    """
    edges = [(link.source, link.target, link.lag, link.link_type) if hasattr(link, "source") else tuple(link)
             for link in links]
    kempten = any(s == "Kempten" and t == "Dillingen" and lag <= 1 and kind in ("-->", "o->")
                  for s, t, lag, kind in edges)
    isar = [(s, t, kind) for s, t, _, kind in edges if "Lenggries" in (s, t) and s != t]
    confounded = any("Kempten" in (s, t) for s, t, _ in isar) and all(kind == "<->" for _, _, kind in isar)
    no_isar = not any(s == "Lenggries" and t == "Dillingen" and kind in ("-->", "o->") for s, t, _, kind in edges)
    return {"kempten_to_dillingen": kempten, "rain_confounded": confounded, "no_isar_to_danube": no_isar}
