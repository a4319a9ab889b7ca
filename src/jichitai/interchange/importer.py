"""Import a directory in the standard layout into an EMPTY municipality (docs/standard-layout.md).

1. Everything is checked before anything is written: the manifest (layout version, files), each file's sha256 and
   size, its header, every row (column count, types, lengths, keys unique, references resolve) and the row counts.
2. Then one transaction writes households, persons, history and the 外字 registry with plain tuples
   (`executemany` on SQLite, COPY on PostgreSQL: `jichitai.demo.bulk`'s writer), continues the 宛名番号 / 世帯番号
   series and appends one audit event. Any error rolls everything back, the municipality created for the import
   included.
"""
import base64
import binascii
import csv
import datetime as dt
import json
from pathlib import Path

from django.db import DatabaseError, connection, transaction

from jichitai.audit.actions import append as audit_append
from jichitai.common.checkdigits import validate_local_government_code
from jichitai.demo.bulk import BulkTables
from jichitai.gaiji.models import GaijiMapping, GaijiMappingEvent
from jichitai.residents.actions import row_search_keys
from jichitai.residents.models import SNAPSHOT_FIELDS, Household, Person, PersonHistory
from jichitai.tenancy.models import Municipality, NumberSequence, Prefecture, StaffUser
from jichitai.tenancy.scope import tenant_scope

from .errors import InterchangeError
from .export import SEQUENCE_NAMES, sha256_of
from .layout import IMPORTABLE_VERSIONS, RESOURCE_BY_NAME, RESOURCES, resources_of

csv.field_size_limit(16 * 1024 * 1024)
BATCH = 20_000


# ---------------------------------------------------------------- value parsing (one function per layout type)

def _date(v):
    if v == "":
        return None
    dt.date.fromisoformat(v)
    if len(v) != 10:
        raise ValueError(v)
    return v


def _datetime(v):
    if v == "":
        return None
    if not v.endswith("Z"):
        raise ValueError(v)
    return dt.datetime.fromisoformat(v[:-1]).replace(tzinfo=dt.timezone.utc)


def _bool(v):
    if v == "true":
        return True
    if v == "false":
        return False
    raise ValueError(v)


def _int(v):
    if v == "":
        return None
    if not v.isdigit():
        raise ValueError(v)
    return int(v)


PARSERS = {"string": str, "date": _date, "datetime": _datetime, "boolean": _bool, "integer": _int}


def _max_lengths(res):
    if res.name == "persons":
        return [Person._meta.get_field(c.name).max_length if c.name != "household_no" else 10
                for c in res.columns]
    return [None] * len(res.columns)


class _Reader:
    """Rows of one CSV file of the layout, checked against its columns; errors name the file and line."""

    def __init__(self, directory: Path, res):
        self.path = directory / res.path
        self.res = res
        self.parsers = [PARSERS[c.type] for c in res.columns]
        self.required = [c.required for c in res.columns]
        self.lengths = _max_lengths(res)

    def __iter__(self):
        res = self.res
        with open(self.path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f, strict=True)
            try:
                header = next(reader, None)
                if header != res.header:
                    raise InterchangeError(
                        f"{res.path} の見出し行が標準レイアウト（{len(res.header)}項目）と一致しません",
                        f"{res.path}: the header does not match the layout's {len(res.header)} columns")
                width = len(res.header)
                for row in reader:
                    line = reader.line_num
                    if len(row) != width:
                        raise InterchangeError(
                            f"{res.path} の {line} 行目の項目数が {len(row)} です（{width} 項目のはずです）。"
                            "ファイルが途中で切れているか壊れています",
                            f"{res.path} line {line}: {len(row)} fields instead of {width} (truncated or corrupt)")
                    out = []
                    for i, (v, parse) in enumerate(zip(row, self.parsers)):
                        if v == "" and self.required[i]:
                            raise InterchangeError(
                                f"{res.path} の {line} 行目: 必須項目「{res.columns[i].title}」が空です",
                                f"{res.path} line {line}: required column {res.columns[i].name} is empty")
                        if self.lengths[i] and len(v) > self.lengths[i]:
                            raise InterchangeError(
                                f"{res.path} の {line} 行目: 「{res.columns[i].title}」が長すぎます",
                                f"{res.path} line {line}: {res.columns[i].name} is too long")
                        try:
                            out.append(parse(v))
                        except ValueError:
                            raise InterchangeError(
                                f"{res.path} の {line} 行目: 「{res.columns[i].title}」の値 {v!r} が"
                                f"型 {res.columns[i].type} として読めません",
                                f"{res.path} line {line}: {res.columns[i].name} {v!r} is not a valid "
                                f"{res.columns[i].type}") from None
                    yield out
            except csv.Error as e:
                raise InterchangeError(f"{res.path} が CSV として読めません（{e}）",
                                       f"{res.path} is not valid CSV ({e})") from None
            except UnicodeDecodeError:
                raise InterchangeError(f"{res.path} が UTF-8 として読めません（途中で切れているか壊れています）",
                                       f"{res.path} is not UTF-8 (truncated or corrupt)") from None


# ---------------------------------------------------------------- validation (reads only)

def read_manifest(directory) -> dict:
    directory = Path(directory)
    path = directory / "manifest.json"
    if not directory.is_dir():
        raise InterchangeError(f"ディレクトリがありません: {directory}", f"no such directory: {directory}")
    if not path.is_file():
        raise InterchangeError("manifest.json がありません。標準レイアウトの出力ディレクトリを指定してください",
                               "manifest.json is missing: give a directory written in the standard layout")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise InterchangeError(f"manifest.json が読めません（{e}）", f"manifest.json is not valid JSON ({e})") from None
    if not isinstance(manifest, dict):
        raise InterchangeError("manifest.json の形式が正しくありません", "manifest.json is not a JSON object")
    version = manifest.get("layout_version")
    if version not in IMPORTABLE_VERSIONS:
        raise InterchangeError(
            f"レイアウトの版 {version!r} には対応していません（対応する版: {', '.join(sorted(IMPORTABLE_VERSIONS))}）",
            f"layout version {version!r} is not supported (supported: {', '.join(sorted(IMPORTABLE_VERSIONS))})")
    muni = manifest.get("municipality")
    if not isinstance(muni, dict) or not muni.get("code") or not muni.get("name"):
        raise InterchangeError("manifest.json に団体の情報（コード・名称）がありません",
                               "manifest.json has no municipality code and name")
    resources = manifest.get("resources")
    if not isinstance(resources, list):
        raise InterchangeError("manifest.json にファイルの一覧がありません", "manifest.json lists no files")
    withheld = [k for k, v in (manifest.get("read_policy") or {}).items() if v == "withheld"]
    if withheld:
        raise InterchangeError(
            "この出力はDV等支援措置の対象者の住所または個人番号を含まないため、取り込めません（移行には、支援措置対象者の"
            "住所を含めた出力が必要です）",
            f"this export withholds {', '.join(withheld)} (read policy); a migration needs a complete export")
    by_name = {r.get("name"): r for r in resources if isinstance(r, dict)}
    for res in resources_of(version):
        entry = by_name.get(res.name)
        if entry is None or entry.get("path") != res.path:
            raise InterchangeError(f"manifest.json に {res.path} の記載がありません",
                                   f"manifest.json does not list {res.path}")
        if not isinstance(entry.get("rows"), int) or not isinstance(entry.get("sha256"), str):
            raise InterchangeError(f"manifest.json の {res.path} の件数またはハッシュが正しくありません",
                                   f"manifest.json: rows or sha256 of {res.path} missing or invalid")
    return manifest


def verify_files(directory, manifest) -> None:
    """Every listed file exists and has the sha256 of the manifest (the schemas too)."""
    directory = Path(directory)
    by_name = {r["name"]: r for r in manifest["resources"] if isinstance(r, dict) and "name" in r}
    for res in resources_of(manifest["layout_version"]):
        entry = by_name[res.name]
        for rel, digest in ((res.path, entry["sha256"]), (res.schema_path, entry.get("schema_sha256"))):
            path = directory / rel
            if not path.is_file():
                raise InterchangeError(f"ファイル {rel} がありません", f"file {rel} is missing")
            if digest is not None and sha256_of(path) != digest:
                raise InterchangeError(
                    f"ファイル {rel} の SHA-256 が manifest.json と一致しません（改変または破損の可能性があります）",
                    f"file {rel}: sha256 does not match manifest.json (altered or corrupt)")


def validate(directory) -> dict:
    """Check everything without writing; return the manifest with `_checked` facts used by the import."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    verify_files(directory, manifest)
    rows = {r["name"]: r["rows"] for r in manifest["resources"]}
    counts = {}
    atena, households, gaiji = set(), set(), set()
    max_atena = max_hh = 0
    hh_heads = []
    extra_keys = set()
    for res in resources_of(manifest["layout_version"]):
        n = 0
        reader = _Reader(directory, res)
        for row in reader:
            n += 1
            if res.name == "persons":
                if row[0] in atena:
                    raise InterchangeError(f"persons.csv: 宛名番号 {row[0]} が重複しています",
                                           f"persons.csv: duplicate atena_no {row[0]}")
                atena.add(row[0])
                if row[0].isdigit():
                    max_atena = max(max_atena, int(row[0]))
            elif res.name == "households":
                if row[0] in households:
                    raise InterchangeError(f"households.csv: 世帯番号 {row[0]} が重複しています",
                                           f"households.csv: duplicate household_no {row[0]}")
                households.add(row[0])
                if row[0].isdigit():
                    max_hh = max(max_hh, int(row[0]))
                if row[1]:
                    hh_heads.append(row[1])
            elif res.name == "history":
                if row[0] not in atena:
                    raise InterchangeError(f"history.csv の {n + 1} 行目: 宛名番号 {row[0]} の住民が persons.csv にありません",
                                           f"history.csv line {n + 1}: atena_no {row[0]} not in persons.csv")
            elif res.name == "gaiji_mappings":
                _pua(row[1], res.path)
                gaiji.add((row[0], row[1]))
                if row[13]:
                    try:
                        base64.b64decode(row[13], validate=True)
                    except binascii.Error:
                        raise InterchangeError(f"gaiji_mappings.csv の {n + 1} 行目: 字形画像の base64 が読めません",
                                               f"gaiji_mappings.csv line {n + 1}: invalid base64 glyph") from None
            elif res.name == "person_extras":
                if row[0] not in atena:
                    raise InterchangeError(f"person_extras.csv の {n + 1} 行目: 宛名番号 {row[0]} の住民が persons.csv にありません",
                                           f"person_extras.csv line {n + 1}: atena_no {row[0]} not in persons.csv")
                if (row[0], row[1]) in extra_keys or not row[1]:
                    raise InterchangeError(f"person_extras.csv の {n + 1} 行目: 項目名が空か重複しています",
                                           f"person_extras.csv line {n + 1}: empty or duplicate name")
                extra_keys.add((row[0], row[1]))
            elif res.name == "gaiji_events":
                if (row[0], row[1]) not in gaiji:
                    raise InterchangeError(f"gaiji_events.csv の {n + 1} 行目: 外字対応がありません",
                                           f"gaiji_events.csv line {n + 1}: no such mapping")
                try:
                    json.loads(row[7])
                except ValueError:
                    raise InterchangeError(f"gaiji_events.csv の {n + 1} 行目: 記録内容が JSON ではありません",
                                           f"gaiji_events.csv line {n + 1}: snapshot_json is not JSON") from None
        if n != rows[res.name]:
            raise InterchangeError(
                f"{res.path} の件数が {n} 件です（manifest.json では {rows[res.name]} 件）。ファイルが欠けています",
                f"{res.path} has {n} rows, manifest.json says {rows[res.name]} (incomplete file)")
        counts[res.name] = n
        if res.name == "households":
            missing = [a for a in hh_heads if a not in atena]
            if missing:
                raise InterchangeError(f"households.csv: 世帯主の宛名番号 {missing[0]} が persons.csv にありません",
                                       f"households.csv: head atena_no {missing[0]} not in persons.csv")
    # persons' households (checked after households.csv was read)
    for row in _Reader(directory, RESOURCE_BY_NAME["persons"]):
        if row[11] not in households:
            raise InterchangeError(f"persons.csv: 宛名番号 {row[0]} の世帯番号 {row[11]} が households.csv にありません",
                                   f"persons.csv: household_no {row[11]} of {row[0]} not in households.csv")
    manifest["_checked"] = {"counts": counts, "max_atena": max_atena, "max_household": max_hh}
    return manifest


def _pua(code, path):
    try:
        if not code.startswith("U+"):
            raise ValueError
        return chr(int(code[2:], 16))
    except (ValueError, OverflowError):
        raise InterchangeError(f"{path}: 私用領域の文字コード {code!r} が読めません",
                               f"{path}: invalid pua_code {code!r}") from None


# ---------------------------------------------------------------- the target municipality

def is_empty(m) -> bool:
    with tenant_scope(m):
        return not (Person.objects.exists() or Household.objects.exists() or PersonHistory.objects.exists()
                    or GaijiMapping.objects.exists())


def _refuse_non_empty(m):
    raise InterchangeError(
        f"{m.name}（{m.code}）には既に住民記録または外字対応があります。取り込みは空の団体にのみできます",
        f"municipality {m.code} already has residents or 外字 mappings: import works only into an empty one")


def _target(manifest, code):
    meta = manifest["municipality"]
    code = code or meta["code"]
    m = Municipality.objects.select_related("prefecture").filter(code=code).first()
    if m is not None:
        return m, False
    try:
        validate_local_government_code(code)
    except ValueError as e:
        raise InterchangeError(f"団体コード {code} が正しくありません（{e}）", f"invalid municipality code {code}") from None
    if code == meta["code"]:
        pcode, pname, name, kana = (meta.get("prefecture_code") or code[:2], meta.get("prefecture_name") or "",
                                    meta["name"], meta.get("name_kana") or "")
    else:
        raise InterchangeError(f"団体コード {code} の団体がありません。先に団体を登録してください",
                               f"no municipality with code {code}: create it first")
    if pcode != code[:2]:
        raise InterchangeError("manifest.json の都道府県コードと団体コードが一致しません",
                               "manifest.json: prefecture code does not match the municipality code")
    pref = Prefecture.objects.filter(code=pcode).first() or Prefecture.objects.create(code=pcode, name=pname or pcode)
    return Municipality.objects.create(code=code, name=name, name_kana=kana, prefecture=pref), True


# ---------------------------------------------------------------- writing

def _sqlite_dt(v):
    return None if v is None else v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def import_directory(directory, *, municipality_code=None, actor=None, terminal="system", progress=None) -> dict:
    """Validate `directory`, then import it into the municipality `municipality_code` (default: the manifest's),
    which must be empty (or absent: then it is created from the manifest). Returns the counts and the
    municipality."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    code = municipality_code or manifest["municipality"]["code"]
    existing = Municipality.objects.filter(code=code).first()
    if existing is not None and not is_empty(existing):
        _refuse_non_empty(existing)
    manifest = validate(directory)
    checked = manifest["_checked"]
    try:
        with transaction.atomic():
            m, created = _target(manifest, code)
            with tenant_scope(m):
                if not created and not is_empty(m):
                    _refuse_non_empty(m)
                stats = _write(directory, m, checked, manifest, progress)
                audit_append(m, "interchange.import", actor=actor, terminal=terminal, object_type="municipality",
                             object_id=m.code, detail={
                                 "layout_version": manifest["layout_version"], "counts": checked["counts"],
                                 "source_municipality": manifest["municipality"].get("code"),
                                 "source_created_at": manifest.get("created_at"),
                                 "manifest_sha256": sha256_of(directory / "manifest.json"),
                                 "municipality_created": created})
    except (DatabaseError, connection.Database.Error) as e:  # the raw driver's errors too (COPY)
        raise InterchangeError(f"取り込み中にデータベースのエラーが起きました。何も書き込んでいません（{e}）",
                               f"database error during import, nothing was written ({e})") from None
    return {"municipality": m, "created": created, "counts": checked["counts"], **stats}


def _write(directory, m, checked, manifest, progress):
    tables = BulkTables(connection.vendor)
    pg = tables.vendor == "postgresql"
    counts = checked["counts"]
    muni_id = m.pk
    with connection.cursor() as cursor:
        hh_start = tables.reserve_ids(cursor, Household, max(1, counts["households"]))
        p_start = tables.reserve_ids(cursor, Person, max(1, counts["persons"]))
        h_start = tables.reserve_ids(cursor, PersonHistory, max(1, counts["history"]))
        # ids are given in file order
        hh_ids, atena_ids = {}, {}
        for i, row in enumerate(_Reader(directory, RESOURCE_BY_NAME["households"])):
            hh_ids[row[0]] = hh_start + i
        for i, row in enumerate(_Reader(directory, RESOURCE_BY_NAME["persons"])):
            atena_ids[row[0]] = p_start + i

        # households
        batch = []
        for row in _Reader(directory, RESOURCE_BY_NAME["households"]):
            created_at = row[3] or dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
            by_attname = {"id": hh_ids[row[0]], "municipality_id": muni_id, "household_no": row[0],
                          "head_id": atena_ids[row[1]] if row[1] else None, "is_active": row[2],
                          "created_at": created_at if pg else _sqlite_dt(created_at)}
            batch.append([by_attname[f.attname] for f in tables.hh_fields])
        tables.insert(cursor, Household, tables.hh_fields, batch)
        if progress:
            progress("households", len(batch))

        # persons: the row as exported, plus search keys (computed as the actions do) and the version
        versions = {}
        for row in _Reader(directory, RESOURCE_BY_NAME["history"]):
            versions[row[0]] = max(versions.get(row[0], 0), row[1])
        cols = RESOURCE_BY_NAME["persons"].header
        defaults = tables.person_defaults
        attnames = tables.person_attnames
        def person_rows():
            for row in _Reader(directory, RESOURCE_BY_NAME["persons"]):
                state = dict(defaults)
                state.update(zip(cols, row))
                state["id"] = atena_ids[state["atena_no"]]
                state["municipality_id"] = muni_id
                state["household_id"] = hh_ids[state.pop("household_no")]
                state["version"] = versions.get(state["atena_no"], 1)
                state.update(row_search_keys(state))
                yield [state[a] for a in attnames]

        tables.insert_batched(cursor, Person, tables.person_fields, person_rows(), BATCH, progress, "persons")

        # history: the snapshot rebuilt with SNAPSHOT_FIELDS' keys and types (dates ISO text, booleans, null dates)
        hist_cols = RESOURCE_BY_NAME["history"].header
        snap_idx = [(f, hist_cols.index(f)) for f in SNAPSHOT_FIELDS if f != "atena_no"]
        encode = tables.json
        hist_attnames = [f.attname for f in tables.hist_fields]

        def history_rows():
            for i, row in enumerate(_Reader(directory, RESOURCE_BY_NAME["history"])):
                snap = {"atena_no": row[0]}
                for f, j in snap_idx:
                    snap[f] = row[j]
                snap = {f: snap[f] for f in SNAPSHOT_FIELDS}
                values = {"id": h_start + i, "municipality_id": muni_id, "person_id": atena_ids[row[0]],
                          "history_no": row[1], "change_kind": row[2], "change_date": row[3],
                          "notification_date": row[4], "processed_at": row[5] if pg else _sqlite_dt(row[5]),
                          "operator": row[6], "terminal": row[7], "note": row[8], "snapshot": encode(snap)}
                yield [values[a] for a in hist_attnames]

        tables.insert_batched(cursor, PersonHistory, tables.hist_fields, history_rows(), BATCH, progress, "history")

    # extra attributes of persons (layout 1.1; absent from 1.0 exports)
    if RESOURCE_BY_NAME["person_extras"] in resources_of(manifest["layout_version"]):
        from jichitai.migration.models import PersonExtra

        PersonExtra.objects.bulk_create(
            [PersonExtra(municipality=m, person_id=atena_ids[r[0]], name=r[1], value=r[2], source=r[3])
             for r in _Reader(directory, RESOURCE_BY_NAME["person_extras"])], batch_size=1000)

    # the 外字 registry (small): through the scoped managers
    reviewers = {u.username: u for u in StaffUser.objects.filter(municipality=m)}
    mappings = {}
    for row in _Reader(directory, RESOURCE_BY_NAME["gaiji_mappings"]):
        (vendor, code, sjis, juki, koseki, vnote, mj, text, status, evidence, reviewer, reviewed_at, version,
         png) = row
        mappings[(vendor, code)] = GaijiMapping.objects.create(
            pua_char=_pua(code, "gaiji_mappings.csv"), sjis_code=sjis, vendor=vendor,
            glyph_png=base64.b64decode(png) if png else None, vendor_juki_code=juki, vendor_koseki_no=koseki,
            vendor_note=vnote, mj_name=mj, mapped_text=text, status=status, evidence=evidence,
            reviewer=reviewers.get(reviewer) if reviewer else None, reviewed_at=reviewed_at, version=version)
    events = [GaijiMappingEvent(municipality=m, mapping=mappings[(r[0], r[1])], action=r[3], at=r[4], actor=r[5],
                                note=r[6], snapshot=json.loads(r[7]))
              for r in _Reader(directory, RESOURCE_BY_NAME["gaiji_events"])]
    GaijiMappingEvent.objects.bulk_create(events)

    # number series continue after the highest number imported (or the source's series, if higher)
    seqs = manifest.get("number_sequences") or {}
    highest = {"atena": checked["max_atena"], "household": checked["max_household"]}
    for name in SEQUENCE_NAMES:
        value = max(int(seqs.get(name) or 0), highest[name])
        seq, _ = NumberSequence.objects.get_or_create(municipality=m, name=name)
        NumberSequence.objects.filter(pk=seq.pk).update(last_value=max(seq.last_value, value))
    return {"number_sequences": {n: NumberSequence.objects.get(municipality=m, name=n).last_value
                                 for n in SEQUENCE_NAMES}}
