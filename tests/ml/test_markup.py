"""The seed's Title/Score markup, read from CSV, XLSX and XLS."""

import struct

import openpyxl
import pytest

from ml.markup import MarkupError, read_markup

ROWS = [("Title", "Score"), ("Alien", 8.5), ("1917", 8.2), ("Cats", 2.8)]
EXPECTED = {"Alien": 8.5, "1917": 8.2, "Cats": 2.8}


def test_reads_csv_with_commas_or_semicolons_and_extra_columns(tmp_path):
    comma = tmp_path / "markup.csv"
    comma.write_text("Title,Year,Score\nAlien,1979,8.5\n1917,2019,8.2\n\nCats,2019,2.8\n", encoding="utf-8")
    assert read_markup(comma) == EXPECTED
    semicolon = tmp_path / "semi.csv"
    semicolon.write_text("\ufefftitle ; score\nAlien;8,5\n1917;8,2\nCats;2,8\n", encoding="utf-8")
    assert read_markup(semicolon) == EXPECTED


def test_reads_xlsx(tmp_path):
    book = openpyxl.Workbook()
    for row in ROWS:
        book.active.append([1917 if row[0] == "1917" else row[0], row[1]])  # a numeric title, as Excel keeps it
    book.save(tmp_path / "markup.xlsx")
    assert read_markup(tmp_path / "markup.xlsx") == EXPECTED


def test_reads_xls(tmp_path):
    path = tmp_path / "markup.xls"
    path.write_bytes(_biff8_workbook(ROWS))
    assert read_markup(path) == EXPECTED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Name,Score\nAlien,8\n", "needs a 'Title' and a 'Score' column"),
        ("Title,Score\nAlien,great\n", r"row 2 \('Alien'\): score 'great' is not a number"),
        ("Title,Score\nAlien,8\nAlien,7\n", "row 3: title 'Alien' appears more than once"),
        ("Title,Score\n,8\n", "row 2 has a score but no title"),
        ("Title,Score\nAlien,8\nCats,11\n", r"row 3 \('Cats'\): score '11' is outside 0–10"),
        ("Title,Score\nAlien,-0.5\n", r"row 2 \('Alien'\): score '-0.5' is outside 0–10"),
        ("", "empty"),
        ("\n\nTitle,Score\nAlien,8\n\nCats,x\n", r"row 6 \('Cats'\): score 'x'"),  # the file's row, blank ones counted
    ],
)
def test_bad_markup_is_refused_with_the_row_and_reason(tmp_path, text, message):
    path = tmp_path / "markup.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MarkupError, match=message):
        read_markup(path)


def test_scores_0_and_10_are_in_range(tmp_path):
    path = tmp_path / "markup.csv"
    path.write_text("Title,Score\nA,0\nB,10\n", encoding="utf-8")
    assert read_markup(path) == {"A": 0.0, "B": 10.0}


@pytest.mark.parametrize(
    "data",
    [
        "Title,Score\r\nAmélie,5\r\nLéon,8\r\n".encode("cp1252"),  # Excel's "CSV (Comma delimited)"
        "Title,Score\nAmélie,5\nLéon,8\n".encode(),
        "\ufeffTitle,Score\nAmélie,5\nLéon,8\n".encode(),
        "Title\tScore\r\nAmélie\t5\r\nLéon\t8\r\n".encode("utf-16"),  # Excel's "Unicode text"
    ],
    ids=["cp1252", "utf-8", "utf-8-bom", "utf-16"],
)
def test_reads_csv_in_utf8_or_excels_windows_1252(tmp_path, data):
    path = tmp_path / "markup.csv"
    path.write_bytes(data)
    assert read_markup(path) == {"Amélie": 5.0, "Léon": 8.0}


def test_a_csv_in_neither_encoding_is_refused_by_name(tmp_path):
    path = tmp_path / "markup.csv"
    path.write_bytes(b"Title,Score\nA\x81\x8d,5\n")  # bytes that are neither UTF-8 nor Windows-1252
    with pytest.raises(MarkupError, match=r"markup\.csv: not a text file in UTF-8, UTF-16 or Windows-1252"):
        read_markup(path)


def test_unknown_format_and_missing_file_are_refused(tmp_path):
    with pytest.raises(MarkupError, match="unsupported markup format"):
        read_markup(tmp_path.joinpath("markup.json").touch() or tmp_path / "markup.json")
    with pytest.raises(MarkupError, match="no such file"):
        read_markup(tmp_path / "absent.csv")
    with pytest.raises(MarkupError, match="is a folder: give the markup file in it"):
        read_markup(tmp_path)


def _biff8_workbook(rows):
    """The smallest BIFF8 workbook stream xlrd reads (no OLE2 container): one sheet of labels and numbers."""

    def record(kind, data=b""):
        return struct.pack("<HH", kind, len(data)) + data

    def bof(stream_type):
        return record(0x0809, struct.pack("<HHHHII", 0x0600, stream_type, 0x0DBB, 0x07CC, 0, 0x06))

    def label(row, col, text):
        return record(0x0204, struct.pack("<HHHHB", row, col, 15, len(text), 0) + text.encode("latin-1"))

    cells = b"".join(
        label(r, c, v) if isinstance(v, str) else record(0x0203, struct.pack("<HHHd", r, c, 15, v))
        for r, row in enumerate(rows) for c, v in enumerate(row)
    )
    sheet = bof(0x10) + record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, 2, 0)) + cells + record(0x000A)
    font = record(0x0031, struct.pack("<HHHHHBBBB", 200, 0, 0x7FFF, 400, 0, 0, 0, 0, 0) + b"\x05\x00Arial")
    xf = record(0x00E0, struct.pack("<HHHBBBBIIH", 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0x20C0))
    name = "Sheet1"

    def globals_(sheet_offset):
        return (bof(0x05) + record(0x0042, struct.pack("<H", 1200)) + font * 5 + xf * 16
                + record(0x0085, struct.pack("<IBBBB", sheet_offset, 0, 0, len(name), 0) + name.encode())
                + record(0x000A))

    offset = len(globals_(0))
    return globals_(offset) + sheet


def test_titles_match_file_names_with_or_without_their_extension():
    from ml.markup import BY_FILE_NAME, BY_STEM, match_markup

    files = {"t000": "t000.mp4", "t001": "t001.mkv", "t002": "t002.mp4", "Mr. Smith": "Mr. Smith.webm",
             "bare": "bare"}  # "bare": a trailer known only by its stem
    match = match_markup({"t000.mp4": 1.0, "t001": 2.0, "t002.MP4": 3.0, "Mr. Smith": 4.0, "bare.avi": 5.0,
                          "t009.mp4": 6.0, "t001.webm": 7.0}, files)
    assert match.scores == {"t000": 1.0, "t001": 2.0, "t002": 3.0, "Mr. Smith": 4.0, "bare": 5.0}
    assert match.rules == {"t000": BY_FILE_NAME, "t001": BY_STEM, "t002": BY_FILE_NAME, "Mr. Smith": BY_STEM,
                           "bare": BY_FILE_NAME}
    assert match.unmatched == ["t009.mp4", "t001.webm"]  # t001 is an .mkv
    assert match.describe() == ("2 titles matched by the file name without its extension; "
                                "3 titles matched by the file name with its extension")


def test_a_file_named_by_two_titles_is_refused_naming_both():
    from ml.markup import MarkupError, match_markup

    with pytest.raises(MarkupError, match=r"the titles 't000' and 't000.mp4' both name t000.mp4"):
        match_markup({"t000": 1.0, "t000.mp4": 2.0}, {"t000": "t000.mp4"})


def test_a_title_matches_a_file_name_spelt_in_another_unicode_form():
    import unicodedata

    from ml.markup import match_markup

    mac = {unicodedata.normalize("NFD", name): f"{unicodedata.normalize('NFD', name)}.mp4"
           for name in ("Amélie", "Léon", "Pokémon")}  # file names copied from a Mac: "e" and a combining accent
    match = match_markup({"Amélie": 8.0, "Léon.mp4": 7.0, "Pokémon": 5.0}, mac)  # typed in a spreadsheet
    assert sorted(match.scores.values()) == [5.0, 7.0, 8.0] and not match.unmatched
    assert set(match.scores) == set(mac)  # each known by its own key, as the caller spelt it
