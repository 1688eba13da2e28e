"""Default user-facing LINE texts, per language. Each channel can override any key in config."""

DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "ja": {
        "welcome": "お問い合わせありがとうございます。内容を確認し、順番にご返信いたします。",
        "follow": "友だち追加ありがとうございます！ご質問はこのトークでいつでもどうぞ。",
    },
    "en": {
        "welcome": "Thank you for contacting us. We will reply to you shortly.",
        "follow": "Thanks for adding us as a friend! Ask us anything here at any time.",
    },
}
