"""Default user-facing LINE texts, per language. Each channel can override any key in config.

Keys starting with `bot_` are the auto-reply bot's (docs/bot.md, "Integration"). `{next_opening}`
in the outside-hours text is replaced by e.g. 「11月24日(火) 10:00」.
"""

DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "ja": {
        "welcome": "お問い合わせありがとうございます。内容を確認し、順番にご返信いたします。",
        "follow": "友だち追加ありがとうございます！ご質問はこのトークでいつでもどうぞ。",
        # operator chat (relay side): queue notices, assignment, close
        "queue_position": "ただいま順番にご案内しています。現在{position}番目、待ち時間の目安は約{minutes}分です。",
        "queue_soon": "ただいま順番にご案内しています。現在{position}番目です。まもなく担当者がご対応します。",
        "queue_no_operator": "ただいま対応できる担当者がおりません。現在{position}番目です。順番が来ましたら担当者からご連絡します。",
        "operator_assigned": "担当者におつなぎしました。このままメッセージをお送りください。",
        "session_closed": "お問い合わせありがとうございました。チャットを終了しました。またいつでもご連絡ください。",
        # -- auto-reply bot --------------------------------------------------------------------
        "bot_greeting": "こんにちは！ご質問をメッセージで送ってください。自動でお答えします。",
        "bot_clarify": "お問い合わせの内容は、次のうちどれに近いですか？",
        "bot_no_match": "申し訳ありません、ご質問の内容を理解できませんでした。別の言葉で言い換えていただくか、「オペレーターと話す」を押してください。",
        "bot_solved": "解決してよかったです！ほかにもご質問があれば、いつでもどうぞ。",
        "bot_unsolved": "お役に立てず申し訳ありません。別の言葉でもう一度ご質問いただくか、「オペレーターと話す」を押してください。",
        "bot_handoff": "オペレーターにおつなぎします。順番にご案内しますので、このままお待ちください。",
        "bot_handoff_closed": "ただいま営業時間外のため、オペレーターは{next_opening}から対応いたします。お問い合わせ内容は記録しましたので、担当者から改めてご連絡いたします。それまでの間もご質問には自動でお答えします。",
        "bot_handoff_bot_only": "申し訳ありません、このアカウントではオペレーターとのチャットを行っておりません。お問い合わせ内容は記録しましたので、担当者から改めてご連絡いたします。",
        "bot_non_text": "恐れ入りますが、ご質問は文章で送ってください。オペレーターと話したい場合は「オペレーターと話す」を押してください。",
        "bot_label_solved": "解決した",
        "bot_label_unsolved": "解決しない",
        "bot_label_human": "オペレーターと話す",
        "bot_label_none": "どれでもない",
    },
    "en": {
        "welcome": "Thank you for contacting us. We will reply to you shortly.",
        "follow": "Thanks for adding us as a friend! Ask us anything here at any time.",
        "queue_position": "You are number {position} in line; the expected wait is about {minutes} min.",
        "queue_soon": "You are number {position} in line. Someone will be with you shortly.",
        "queue_no_operator": "Nobody is available right now. You are number {position} in line; we will get back to you.",
        "operator_assigned": "You are now connected to a member of our team. Go ahead and write here.",
        "session_closed": "Thank you for contacting us. This chat is now closed; write again at any time.",
        "bot_greeting": "Hello! Send us your question and we will answer it right away.",
        "bot_clarify": "Which of these is closest to your question?",
        "bot_no_match": 'Sorry, we could not understand your question. Please try other words, or tap "Talk to a person".',
        "bot_solved": "Glad it helped! Ask us anything else at any time.",
        "bot_unsolved": 'Sorry that did not help. Please ask again in other words, or tap "Talk to a person".',
        "bot_handoff": "We are connecting you to an operator. Please wait a moment.",
        "bot_handoff_closed": "Our operators are available again from {next_opening}. We have recorded your inquiry and will get back to you. Until then, the bot keeps answering your questions.",
        "bot_handoff_bot_only": "Sorry, this account does not offer chat with operators. We have recorded your inquiry and will get back to you.",
        "bot_non_text": 'Please send your question as text. To talk to a person, tap "Talk to a person".',
        "bot_label_solved": "Solved",
        "bot_label_unsolved": "Not solved",
        "bot_label_human": "Talk to a person",
        "bot_label_none": "None of these",
    },
}
