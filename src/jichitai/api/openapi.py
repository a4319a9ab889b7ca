"""The OpenAPI 3.1 description of the change feed, built from the register's own field list and labels, so every
snapshot field appears with its Japanese item name (項目名) and type."""
from django.db import models

from jichitai.residents.models import SNAPSHOT_FIELDS, ChangeKind, Person
from jichitai.privacy.policy import ADDRESS_FIELDS
from jichitai.residents.queries import FIELD_LABELS

from .feed import DEFAULT_LIMIT, MAX_LIMIT
from .scopes import DV_ADDRESS, EXPLICIT_ONLY, SCOPE_SETS


def _field_schema(name: str) -> dict:
    label = FIELD_LABELS.get(name, name)
    try:
        f = Person._meta.get_field(name)
    except Exception:  # household_no lives on the household
        f = None
    if isinstance(f, models.BooleanField):
        s = {"type": ["boolean", "null"]}
    elif isinstance(f, models.DateField):
        s = {"type": ["string", "null"], "format": "date"}
    else:
        s = {"type": ["string", "null"]}
    s["title"] = label
    desc = f"{label}"
    scopes = sorted(n for n, (fields, _) in SCOPE_SETS.items() if name in fields)
    if scopes:
        desc += f"。スコープ: {', '.join(scopes)}, または項目名 `{name}`"
    else:
        desc += f"。項目名 `{name}` を明示的に許可されたクライアントのみ"
    if name in ADDRESS_FIELDS:
        desc += "。DV等支援措置の対象者は `dv_address` スコープがなければ null（address_withheld: true）"
    if f is not None and getattr(f, "choices", None):
        desc += "。値: " + ", ".join(f"{v}={lbl}" for v, lbl in f.choices)
    s["description"] = desc
    return s


def document() -> dict:
    err = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "message_ja", "message_en"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string", "title": "メッセージ（日本語 / 英語）"},
                       "message_ja": {"type": "string"}, "message_en": {"type": "string"},
                       "parameter": {"type": "string", "title": "誤りのあるパラメータ"}}}}}
    person = {
        "type": "object", "title": "記載内容（許可された項目のみ）",
        "description": "異動後の住民票の内容（全項目のスナップショット）のうち、クライアントのスコープで許可された項目だけを含みます。"
                       "許可されていない項目はキー自体がありません。",
        "properties": {f: _field_schema(f) for f in SNAPSHOT_FIELDS if f != "atena_no"},
    }
    item = {
        "type": "object", "title": "異動1件（異動履歴1行）",
        "required": ["cursor", "atena_no", "history_no", "change", "change_date", "notification_date",
                     "processed_at", "address_withheld", "person"],
        "properties": {
            "cursor": {"type": "string", "title": "カーソル",
                       "description": "この異動のフィード上の位置。次回は after にこの値（または next）を渡します。"
                                      "不透明な値として扱ってください（現在は増加する整数の文字列）。"},
            "atena_no": {"type": "string", "title": "宛名番号", "description": "住民を識別する番号（自治体内で一意）。内部IDは公開しません"},
            "history_no": {"type": "integer", "title": "履歴番号", "description": "住民ごとの 1..n"},
            "change": {"type": "object", "title": "異動事由", "required": ["code", "label", "group"], "properties": {
                "code": {"type": "string", "enum": list(ChangeKind.values), "title": "異動事由コード"},
                "label": {"type": "string", "title": "異動事由", "description": ", ".join(
                    f"{k.value}={k.label}" for k in ChangeKind)},
                "group": {"type": "string", "enum": ["記載", "消除", "修正"], "title": "異動区分"}}},
            "change_date": {"type": "string", "format": "date", "title": "異動日"},
            "notification_date": {"type": ["string", "null"], "format": "date", "title": "届出日"},
            "processed_at": {"type": "string", "format": "date-time", "title": "処理日"},
            "address_withheld": {"type": "boolean", "title": "住所等の非表示（DV等支援措置）",
                                 "description": "true のとき住所の項目は null です"},
            "person": person,
        },
    }
    page = {
        "type": "object", "required": ["municipality", "items", "next", "has_more", "fields"],
        "properties": {
            "municipality": {"type": "object", "title": "自治体", "properties": {
                "code": {"type": "string", "title": "地方公共団体コード（5桁）"},
                "code6": {"type": "string", "title": "地方公共団体コード（検査数字付き6桁）"},
                "name": {"type": "string", "title": "団体名"}}},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Change"}, "title": "異動（古い順）"},
            "next": {"type": "string", "title": "次のカーソル",
                     "description": "次回の after に渡す値。異動がなければ受け取った after と同じ"},
            "has_more": {"type": "boolean", "title": "続きの有無", "description": "true ならすぐに次のページを取得できます"},
            "fields": {"type": "array", "items": {"type": "string"}, "title": "このクライアントに提供される項目"},
        },
    }
    scopes_text = "; ".join(f"`{n}`: {d}" for n, (_, d) in SCOPE_SETS.items())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Jichitai Cloud 住民異動連携API / resident change feed",
            "version": "1.0.0",
            "description": (
                "税・国保・福祉などの業務システムが、住民記録の異動を順番に取得するためのAPIです。"
                "1件は異動履歴1行（異動後の全項目のスナップショット）で、クライアントに許可された項目だけを返します。"
                f"スコープ: {scopes_text}. 明示的な許可が必要なもの: {', '.join(sorted(EXPLICIT_ONLY))}。"
                f"`{DV_ADDRESS}` がなければ、DV等支援措置の対象者の住所項目は null になります。"
                "すべての呼び出しは操作ログに記録されます。"),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerKey": []}],
        "paths": {
            "/api/v1/municipalities/{code}/changes": {
                "get": {
                    "operationId": "listChanges",
                    "summary": "異動の取得（カーソル以降、古い順） / changes after a cursor, oldest first",
                    "parameters": [
                        {"name": "code", "in": "path", "required": True, "title": "地方公共団体コード",
                         "description": "5桁の地方公共団体コード。APIキーの自治体以外は 404",
                         "schema": {"type": "string", "pattern": "^[0-9]{5}$"}},
                        {"name": "after", "in": "query", "required": False, "title": "カーソル",
                         "description": "前回の応答の next（または item の cursor）。省略時は最初から",
                         "schema": {"type": "string", "pattern": "^[0-9]{1,18}$", "default": "0"}},
                        {"name": "limit", "in": "query", "required": False, "title": "件数",
                         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                    "default": DEFAULT_LIMIT}},
                    ],
                    "responses": {
                        "200": {"description": "異動のページ",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChangePage"}}}},
                        "400": {"description": "after または limit の形式が不正",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                        "401": {"description": "APIキーがない・不明・失効",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                        "404": {"description": "自治体が見つからない（他の自治体のコードを含む）",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {"bearerKey": {
                "type": "http", "scheme": "bearer", "bearerFormat": "jk_<12 hex>_<43 base64url>",
                "description": "自治体・連携先システムごとのAPIキー（`jichitai api_client create` で発行、表示は1回のみ）"}},
            "schemas": {"ChangePage": page, "Change": item, "Error": err},
        },
    }
