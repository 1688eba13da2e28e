"""Microseconds per message for the built-in redaction rules (the webhook masks every text event).

    python -m bench.redaction_timing [--number N]

Each message is redacted N times per repeat (best of 5 repeats); the table gives microseconds of
CPU time per call (process time, so that other load on a shared machine counts less). No Redis,
no network: this is the pure domain function on one core.
"""

from __future__ import annotations

import argparse
import time
import timeit

from connector.domain.redaction import Redactor

MESSAGES = {
    "ja_plain_no_digits": "お世話になっております。先日注文した商品がまだ届いていないのですが、"
    "配送状況を確認していただけますでしょうか。よろしくお願いいたします。",
    "ja_order_and_phone": "注文番号は20261121-0042です。電話番号は090-1234-5678、"
    "届け先は〒150-0001 東京都渋谷区神宮前1-2-3、3個で12,800円でした。",
    "ja_card_and_code": "カード番号は4111 1111 1111 1111、有効期限は12/28、セキュリティコードは123です。",
    "en_short": "Hi, can I change my delivery address? Order 1234567.",
    "th_plain": "สวัสดีค่ะ อยากสอบถามเรื่องการจัดส่งสินค้าค่ะ ขอบคุณค่ะ",
    "ja_long_2000_chars": ("お問い合わせありがとうございます。商品の在庫を確認いたします。" * 70)[:2000],
    "digits_long_2000_chars": ("注文 1234-5678 を 3 個、2026/11/21 10:00 に。" * 60)[:2000],
}


def measure(number: int) -> dict[str, float]:
    redactor = Redactor()
    return {
        name: min(timeit.repeat(lambda t=text: redactor.redact(t), number=number, repeat=5, timer=time.process_time))
        / number
        * 1e6
        for name, text in MESSAGES.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()
    for name, us in measure(args.number).items():
        print(f"{name:26} {len(MESSAGES[name]):5} chars  {us:8.1f} us")


if __name__ == "__main__":
    main()
