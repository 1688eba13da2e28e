"""Synonym groups: optional packs of one domain's words (today: online-shop customer support,
Japanese), chosen in configuration (``knowledge.synonym_packs``); none by default.

Each group maps a concept name to surface variants. A text that contains any
variant (after :func:`normalize`, or in its kana reading) gets a concept token,
so 「返したい」 and 「返品」 meet even when they share no characters. Keep the
groups general (how people talk about shopping), not tied to one question set;
integrators add their own through ``KnowledgeIndex.build(synonyms=...)`` (``knowledge.synonyms``).
On other domains the shop's groups are false friends (「やめたい」 -> 取消, 「停止」 -> 解約), so the
default path has none (issue 18; measured per domain in docs/bot.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

SHOP_SYNONYMS: dict[str, tuple[str, ...]] = {
    "返品": (
        "返品",
        "返却",
        "返したい",
        "返送",
        "送り返",
        "返す",
        "へんぴん",
        "イメージと違",
        "思ってたのと違",
        "気に入らな",
    ),
    "未着": (
        "届かない",
        "届いてない",
        "届いていない",
        "来ない",
        "こない",
        "着かない",
        "配送遅延",
        "まだ届",
        "まだ来",
        "まだこ",
        "遅い",
        "遅れ",
    ),
    "追跡": ("追跡", "配送状況", "お問い合わせ番号", "問い合わせ番号", "伝票番号", "どこにある"),
    "解約": ("解約", "退会", "やめたい", "辞めたい", "止めたい", "停止", "解除"),
    "退会": (
        "退会",
        "アカウント削除",
        "アカウント消",
        "会員やめ",
        "会員辞め",
        "会員をやめ",
        "会員じゃなく",
        "登録解除",
        "脱会",
        "登録消",
    ),
    "パスワード": ("パスワード", "pw", "pass", "ログインできない", "ログイン出来ない", "入れない", "ロック"),
    "メールアドレス": ("メールアドレス", "メアド", "アドレス"),
    "取消": ("キャンセル", "取り消", "取消", "やめたい", "なしにして", "いらなくなった"),
    "変更": (
        "変更",
        "変えたい",
        "変えられ",
        "変えて",
        "替えたい",
        "かえたい",
        "訂正",
        "修正",
        "間違え",
        "まちがえ",
        "変わつた",
        "変わった",
    ),
    "交換": ("交換", "取り替え", "取替", "替えて", "替えたい", "かえて"),
    "不良": ("不良", "破損", "壊れ", "割れ", "傷", "汚れ", "欠け", "動かない", "初期不良", "故障"),
    "誤配": ("違う商品", "ちがう", "違う", "間違った商品", "間違い", "足りない", "不足", "別の"),
    "返金": ("返金", "お金戻", "お金が戻", "お金いつ戻", "戻ってく", "払い戻", "差額", "お金返"),
    "支払": ("支払", "払い", "払う", "払え", "払えば", "払い方", "決済", "お会計", "ペイ", "pay"),
    "クレジットカード": ("クレジットカード", "クレカ", "カード"),
    "エラー": ("エラー", "通らない", "弾かれ", "はじかれ", "使えない", "できない", "無効"),
    "後払い": ("後払い", "あと払い", "後から払", "請求書"),
    "代引き": ("代引", "代金引換", "だいびき", "着払い", "現金"),
    "コンビニ": ("コンビニ", "セブン", "ローソン", "ファミマ", "ファミリーマート", "ミニストップ"),
    "ポイント": ("ポイント", "pt"),
    "期限": ("期限", "有効期限", "いつまで", "失効", "消える", "なくなる"),
    "クーポン": ("クーポン", "割引コード", "クーポンコード", "プロモコード", "割引券"),
    "会員登録": ("会員登録", "新規登録", "アカウント作", "アカウント作成", "入会", "会員になる"),
    "領収書": ("領収書", "領収証", "レシート", "インボイス", "経費"),
    "在庫": ("在庫", "入荷", "再入荷", "売り切れ", "売切", "品切れ", "完売"),
    "ギフト": ("ギフト", "ラッピング", "包装", "プレゼント", "贈り物", "のし", "熨斗", "包んで"),
    "予約": ("予約", "発売日"),
    "定期便": ("定期便", "定期購入", "定期", "サブスク"),
    "スキップ": ("スキップ", "休み", "お休み", "一回とばし", "飛ばし"),
    "メルマガ": ("メルマガ", "メールマガジン", "ニュースレター", "広告メール", "宣伝メール", "配信停止"),
    "個人情報": (
        "個人情報",
        "プライバシー",
        "私の情報",
        "第三者",
        "保存され",
        "漏洩",
        "情報漏",
        "情報の扱い",
        "カード情報の管理",
    ),
    "アプリ": ("アプリ", "app"),
    "営業時間": ("営業時間", "受付時間", "何時まで", "何時から", "土日", "対応時間", "電話番号"),
    "サイズ": ("サイズ", "サイズ感", "大きさ", "寸法"),
    "同梱": ("同梱", "まとめて", "一緒に送", "一緒にして", "一緒に届"),
    "値下がり": ("値下がり", "値下げ", "安くなっ", "セール", "差額"),
    "LINE": ("line", "ライン"),
    "連携": ("連携", "ひもづけ", "紐付け", "紐づけ", "つなげ", "連動"),
    "レビュー": ("レビュー", "口コミ", "クチコミ", "感想", "評価"),
    "法人": ("法人", "会社で", "大量", "見積", "業務用", "まとめ買い", "大口", "卸売"),
    "備考": ("備考", "要望", "メモ", "お願いを伝"),
    "送料": ("送料", "配送料", "配送料金", "送料無料"),
    "日時指定": ("日時指定", "時間指定", "時間帯", "お届け日", "午前中", "夜に届", "日に届"),
    "再配達": ("再配達", "不在", "不在票", "留守", "受け取れなかった", "受け取りそびれ", "持ち帰"),
    "置き配": ("置き配", "玄関", "宅配ボックス", "置いて", "対面"),
    "住所": ("住所", "届け先", "送り先", "配送先", "お届け先", "引越", "引っ越"),
    "海外": ("海外", "国外", "アメリカ", "中国", "台湾", "韓国", "international", "overseas"),
    "注文履歴": (
        "注文履歴",
        "購入履歴",
        "履歴",
        "注文内容",
        "何買った",
        "何注文",
        "買ったものの記録",
        "記録",
        "中身",
        "見返",
        "買ったもの",
        "購入したもの",
    ),
    "確認メール": (
        "確認メール",
        "注文確認",
        "メールが来ない",
        "メールこない",
        "メール来ない",
        "メールが届かない",
        "メール届かない",
        "メールが届いてない",
        "メールも無い",
        "メールもない",
        "自動送信",
        "連絡がない",
        "連絡が来ない",
        "連絡こない",
    ),
    "数量": ("数量", "個数", "何個", "点数", "個にしたい", "個に変"),
    "発送": ("発送", "出荷", "届く", "着く", "届くまで", "何日", "いつ届", "いつ頃届", "いつごろ届"),
}

# Optional packs of synonym groups, chosen in configuration (``knowledge.synonym_packs``).
SYNONYM_PACKS: dict[str, dict[str, tuple[str, ...]]] = {"shop": SHOP_SYNONYMS}
# What KnowledgeIndex uses when given no groups: no domain's vocabulary.
DEFAULT_SYNONYMS: dict[str, tuple[str, ...]] = {}


def synonym_groups(
    packs: Iterable[str] = (), extra: Mapping[str, Sequence[str]] | None = None
) -> dict[str, tuple[str, ...]]:
    """The synonym groups of ``packs`` (names of SYNONYM_PACKS) merged with an admin's own
    ``extra`` groups; a group of ``extra`` with a pack's name adds its variants to that group.
    Unknown pack names raise ValueError."""
    out: dict[str, tuple[str, ...]] = {}
    for name in packs:
        if name not in SYNONYM_PACKS:
            raise ValueError(f"unknown synonym pack {name!r} (known: {', '.join(sorted(SYNONYM_PACKS))})")
        for concept, variants in SYNONYM_PACKS[name].items():
            out[concept] = tuple(dict.fromkeys((*out.get(concept, ()), *variants)))
    for concept, variants in (extra or {}).items():
        out[concept] = tuple(dict.fromkeys((*out.get(concept, ()), *variants)))
    return out
