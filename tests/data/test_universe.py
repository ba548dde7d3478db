from __future__ import annotations

from collections import Counter

import pytest

from turbomode.data.universe import SECTORS, Security, load_universe
from turbomode.errors import BadInput


def test_the_builtin_universe_covers_every_sector_with_at_least_ten_stocks():
    uni = load_universe()
    assert len(uni) >= 240
    counts = Counter(s.sector for s in uni)
    assert set(counts) == set(SECTORS)
    assert len(SECTORS) == 11
    assert min(counts.values()) >= 10, counts


def test_the_builtin_universe_has_no_duplicate_symbols():
    symbols = [s.symbol for s in load_universe()]
    assert len(symbols) == len(set(symbols))
    assert all(s == s.strip().upper() and s for s in symbols)


@pytest.mark.parametrize("path", [None, ""])
def test_none_or_empty_path_means_the_packaged_file(path):
    uni = load_universe(path)
    assert uni[0] == Security("AAPL", "Apple", "Information Technology")


def test_it_reads_a_user_file_with_extra_columns_and_normalises_case(tmp_path):
    f = tmp_path / "u.csv"
    f.write_text("Sector,Symbol,Name,Note\nenergy,xom,Exxon Mobil,x\nUtilities,NEE,NextEra,\n")
    assert load_universe(f) == [Security("XOM", "Exxon Mobil", "Energy"), Security("NEE", "NextEra", "Utilities")]


@pytest.mark.parametrize(
    "text, needle",
    [
        ("symbol,name\nAAPL,Apple\n", "line 1: missing column(s) sector"),
        ("symbol,name,sector\nAAPL,Apple,Tech\n", "line 2: unknown sector 'Tech'"),
        ("symbol,name,sector\nAAPL,Apple,Energy\nXOM,Exxon,Energy\nAAPL,Apple,Energy\n", "line 4: AAPL is listed again"),
        ("symbol,name,sector\nAAPL,Apple\n", "line 2: expected 3 fields"),
        ("symbol,name,sector\n,Apple,Energy\n", "line 2"),
        ("symbol,name,sector\nAA PL,Apple,Energy\n", "line 2"),
        ("", "is empty"),
        ("symbol,name,sector\n", "lists no stocks"),
    ],
)
def test_it_rejects_a_malformed_user_file_naming_the_line(tmp_path, text, needle):
    f = tmp_path / "u.csv"
    f.write_text(text)
    with pytest.raises(BadInput) as exc:
        load_universe(f)
    assert needle in str(exc.value)


def test_it_rejects_a_missing_user_file(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        load_universe(tmp_path / "nope.csv")


@pytest.mark.parametrize("written, stored", [("BRK.B", "BRK-B"), ("brk-b", "BRK-B"), (" BF.B ", "BF-B"),
                                             ("AAPL", "AAPL"), ("^GSPC", "^GSPC"), ("RDS.AB", "RDS.AB")])
def test_a_class_share_is_spelled_as_yahoo_does(written, stored):
    from turbomode.data.universe import canonical_symbol

    assert canonical_symbol(written) == stored


def test_both_spellings_of_one_stock_in_a_universe_file_are_one_symbol_listed_twice(tmp_path):
    f = tmp_path / "u.csv"
    f.write_text("symbol,name,sector\nBRK-B,Berkshire,Financials\nBRK.B,Berkshire,Financials\n")
    with pytest.raises(BadInput, match=r"line 3: BRK.B is BRK-B in Yahoo's spelling, listed again \(first on line 2\)"):
        load_universe(f)
