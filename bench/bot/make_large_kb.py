"""Build a 2,000-article KB: the real articles plus synthetic distractors.

    .venv/bin/python bench/bot/make_large_kb.py [N] > /tmp/kb_large.json

Distractors look like what a real shop's Knowledge base accumulates: product
care and spec notes, campaign terms, brand size charts, store-system notices.
They share vocabulary with the real articles (送料, ポイント, サイズ, 注文...)
so they compete in ranking. Deterministic (fixed seed).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent

PRODUCTS = [
    "ダウンジャケット",
    "ニットセーター",
    "デニムパンツ",
    "スニーカー",
    "革靴",
    "トートバッグ",
    "リュック",
    "腕時計",
    "ワイヤレスイヤホン",
    "電気ケトル",
    "炊飯器",
    "フライパン",
    "土鍋",
    "マグカップ",
    "羽毛布団",
    "枕",
    "ラグ",
    "カーテン",
    "ベビーカー",
    "抱っこひも",
    "化粧水",
    "日焼け止め",
    "シャンプー",
    "ヘアドライヤー",
    "ヨガマット",
    "ランニングシューズ",
    "テント",
    "寝袋",
    "キャンプチェア",
    "スマホケース",
    "モバイルバッテリー",
    "コーヒー豆",
    "緑茶ティーバッグ",
    "チョコレート詰め合わせ",
    "ドッグフード",
    "キャットタワー",
    "加湿器",
    "扇風機",
    "電動歯ブラシ",
    "万年筆",
    "手帳",
    "傘",
    "レインコート",
    "帽子",
    "手袋",
    "マフラー",
    "水着",
]
BRANDS = ["アオゾラ", "KOMOREBI", "ナギサ", "HOKUTO", "ユキミ", "Sakura Works", "ミナモ", "TSUKI", "カゼノネ", "Hinata"]
TOPICS = [
    (
        "お手入れ方法",
        "{p}のお手入れ方法を教えてください。",
        "{p}は{care}。長くお使いいただくため、直射日光と高温多湿を避けて保管してください。",
    ),
    (
        "素材と原産国",
        "{p}の素材と原産国は？",
        "{b}の{p}は{mat}を使用し、{country}で生産しています。詳しい組成は商品ページの仕様欄をご覧ください。",
    ),
    ("サイズ表", "{b}の{p}のサイズ感は？", "{b}の{p}は{fit}の作りです。実寸は商品ページのサイズ表をご確認ください。"),
    ("保証期間", "{p}の保証期間は？", "{p}のメーカー保証は{warranty}です。保証書は商品に同梱しています。"),
    (
        "使い方",
        "{p}の使い方がわかりません。",
        "{p}の使い方は同梱の取扱説明書をご覧ください。{b}の公式サイトでも動画で紹介しています。",
    ),
    (
        "キャンペーン条件",
        "{b}フェアの条件は？",
        "{b}フェア期間中、対象の{p}をお買い上げの方にポイント{pt}倍を進呈します。他のクーポンとの併用はできません。",
    ),
    (
        "入荷予定",
        "{b}の{p}の新作はいつ出ますか？",
        "{b}の{p}の新作は{season}に発売予定です。発売日が決まり次第メルマガでお知らせします。",
    ),
    ("同梱物", "{p}には何が入っていますか？", "{p}には本体、取扱説明書、保証書が入っています。{extra}"),
    ("対象年齢・注意事項", "{p}の注意事項は？", "{p}をご使用の際は取扱説明書の注意事項をお読みください。{warn}"),
    (
        "ギフトセット",
        "{b}の{p}のギフトセットはありますか？",
        "{b}の{p}はギフトボックス入りのセットもご用意しています。のし対応は商品ページでご確認ください。",
    ),
]
CARE = [
    "手洗いまたは洗濯ネットに入れて弱水流で洗えます",
    "水洗いできませんので、汚れは固く絞った布で拭いてください",
    "食器用洗剤とやわらかいスポンジで洗ってください",
    "月に一度、風通しのよい日陰で干してください",
    "ドライクリーニングをおすすめします",
    "使用後は電源を切り、完全に冷めてから拭いてください",
]
MATS = ["綿100%", "ポリエステル", "ウール混", "ステンレス", "天然木", "牛革", "ナイロン", "陶器", "ABS樹脂"]
COUNTRIES = ["日本", "中国", "ベトナム", "イタリア", "ポルトガル", "タイ"]
FITS = ["やや小さめ", "標準的", "ゆったりめ", "大きめ"]
WARRANTY = ["お買い上げ日から1年間", "お買い上げ日から2年間", "6か月", "3年間（登録が必要です）"]
SEASONS = ["春", "夏", "秋", "冬", "来月", "年末"]
EXTRA = [
    "付属品の欠品は到着後8日以内にご連絡ください。",
    "充電ケーブルは別売りです。",
    "交換用パーツは公式サイトで販売しています。",
]
WARN = [
    "小さなお子様の手の届かない所に保管してください。",
    "肌に異常があらわれた場合は使用を中止してください。",
    "火気の近くでは使用しないでください。",
    "本来の用途以外には使用しないでください。",
]


def make(n: int = 2000, seed: int = 7) -> list[dict]:
    real = json.loads((HERE / "kb.json").read_text(encoding="utf-8"))
    rng = random.Random(seed)
    out = list(real)
    i = 0
    while len(out) < n:
        p, b = rng.choice(PRODUCTS), rng.choice(BRANDS)
        title_t, q_t, a_t = rng.choice(TOPICS)
        fill = dict(
            p=p,
            b=b,
            care=rng.choice(CARE),
            mat=rng.choice(MATS),
            country=rng.choice(COUNTRIES),
            fit=rng.choice(FITS),
            warranty=rng.choice(WARRANTY),
            pt=rng.randint(2, 10),
            season=rng.choice(SEASONS),
            extra=rng.choice(EXTRA),
            warn=rng.choice(WARN),
        )
        i += 1
        out.append(
            {
                "id": f"syn-{i:05d}",
                "title": f"{b} {p}の{title_t}",
                "question": q_t.format(**fill),
                "answer": a_t.format(**fill),
                "body": f"{b}の{p}に関するご案内です。" + rng.choice(EXTRA) + rng.choice(WARN),
            }
        )
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    json.dump(make(n), sys.stdout, ensure_ascii=False)
