"""Behaviour of the card-data redactor, as a customer or auditor sees it."""

import pytest

from connector.domain.redaction import Redactor, Rule, redact_stream, rules_from_config
from tests.domain.luhn import luhn_valid


def with_check_digit(body: str) -> str:
    return next(body + str(c) for c in range(10) if luhn_valid(body + str(c)))


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


# --- card numbers -----------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("4111111111111111", "411111******1111"),  # Visa
        ("5555555555554444", "555555******4444"),  # Mastercard
        ("3530111333300000", "353011******0000"),  # JCB
        ("378282246310005", "378282*****0005"),  # Amex, 15 digits
        ("4222222222222", "422222***2222"),  # 13 digits
        (with_check_digit("411111111111111111"), "411111*********" + with_check_digit("411111111111111111")[-4:]),
        ("4111 1111 1111 1111", "4111 11** **** 1111"),
        ("4111-1111-1111-1111", "4111-11**-****-1111"),
        ("3782 822463 10005", "3782 82**** *0005"),
    ],
)
def test_card_number_keeps_only_first_six_and_last_four_digits(redactor, text, expected):
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    "separator",
    [
        " ",
        "-",
        "\u3000",
        "\uff0d",
        "\u2010",
        "\u2212",
        "\u30fc",
        # the shapes of issue 17 that used to reach Salesforce in clear
        ".",
        "/",
        "_",
        ",",
        "\t",
        "  ",
        "\u00a0",
        "\u2009",
        "\u202f",
        "・",
        "。",
        "、",
        ":",
        "\u2014",
        "\u2013",
        "〜",
        " - ",
        " / ",
        "\n",
        "\r\n",
        "\u200b",
    ],
)
def test_card_number_with_any_separator_is_masked_and_separators_kept(redactor, separator):
    text = separator.join(["4111", "1111", "1111", "1111"])
    assert redactor.redact(text) == separator.join(["4111", "11**", "****", "1111"])


def test_full_width_card_number_keeps_width_of_visible_digits(redactor):
    assert (
        redactor.redact("４１１１\u3000１１１１\u3000１１１１\u3000１１１１")
        == "４１１１\u3000１１**\u3000****\u3000１１１１"
    )


def test_card_number_typed_with_ime_long_vowel_marks_is_masked(redactor):
    # A Japanese IME in kana mode turns "-" into "ー".
    assert redactor.redact("４１１１ー１１１１ー１１１１ー１１１１") == "４１１１ー１１**ー****ー１１１１"


def test_card_number_mixing_digit_widths_is_masked(redactor):
    assert redactor.redact("4111１１１１1111１１１１") == "4111１１******１１１１"


def test_card_number_inside_japanese_sentence_is_masked(redactor):
    assert redactor.redact("カード番号は4111111111111111です") == "カード番号は411111******1111です"


def test_card_number_followed_by_expiry_in_same_digit_run_is_masked(redactor):
    assert redactor.redact("4111 1111 1111 1111 1228") == "4111 11** **** 1111 1228"


def test_two_card_numbers_in_one_message_are_both_masked(redactor):
    assert redactor.redact("4111111111111111 5555555555554444") == "411111******1111 555555******4444"


def test_luhn_valid_number_labelled_as_order_number_is_masked_for_safety(redactor):
    # Decision: PCI safety first. We cannot tell a card from an order id.
    assert redactor.redact("注文番号 4111111111111111") == "注文番号 411111******1111"


@pytest.mark.parametrize(
    "text",
    [
        "41111111111111111234",  # 20 digits: a PAN inside a longer run
        "14111111111111111",  # a leading digit makes a 17-digit run
        "１4111111111111111",  # ...also when that digit is full-width
        "4111111111111112",  # Luhn-invalid
    ],
)
def test_digits_that_are_not_a_whole_luhn_valid_run_stay(redactor, text):
    assert not luhn_valid(text.replace("１", "1"))
    assert redactor.redact(text) == text


def test_card_number_with_mixed_separators_is_masked(redactor):
    assert redactor.redact("4111-1111 1111.1111") == "4111-11** ****.1111"


def test_card_number_broken_over_lines_is_masked(redactor):
    assert redactor.redact("カード番号\n4111 1111\n1111 1111\nです") == "カード番号\n4111 11**\n**** 1111\nです"


def test_card_number_in_irregular_groups_is_masked(redactor):
    assert redactor.redact("amex 37 8282 2463 10005") == "amex 37 8282 **** *0005"


def test_card_number_in_thai_digits_is_masked(redactor):
    assert redactor.redact("บัตร ๔๑๑๑ ๑๑๑๑ ๑๑๑๑ ๑๑๑๑") == "บัตร ๔๑๑๑ ๑๑** **** ๑๑๑๑"


def test_groups_more_than_six_separators_apart_are_separate_numbers(redactor):
    text = "4111       1111       1111       1111"
    assert redactor.redact(text) == text


def test_a_card_number_inside_a_chance_card_window_is_still_masked(redactor):
    # "1234 5678 4111" + ... could be Luhn-valid by chance; the real number is masked anyway.
    out = redactor.redact("090 1234 5678 4111 1111 1111 1111")
    assert "4111 11** **** 1111" in out


@pytest.mark.parametrize(
    "text",
    [
        "Order #123-4567890-1234567",  # its 14-digit tail 45678901234567 is Luhn-valid
        "0000000000000",  # Luhn-valid, but no card number starts with 0
        "03-1234-5678/090-8765-4321",
        "受付 2026-11-21 10:00:00",  # 20261121100000: a date and a time
        "合計 1,234,567,890,126円",  # an amount
    ],
)
def test_numbers_no_card_is_written_like_stay_even_when_luhn_valid(redactor, text):
    assert redactor.redact(text) == text


# --- things that must stay intact ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "注文番号 1234567890123",
        "注文番号：9876543210987654",
        "090-1234-5678",
        "03-1234-5678",
        "+81 90 1234 5678",
        "０９０－１２３４－５６７８",
        "〒100-0001",
        "2026/11/21",
        "2026-11-21",
        "2026年11月21日",
        "¥12,800",
        "12,800円",
        "1,234,567円",
        "10:00〜19:00",
        "23:59:59",
        "3個",
        "部屋番号123",
        "部屋番号は1234です",
        "電話番号は090-1234-5678です",
        "注文123、セキュリティコードは不要です",
        "CVVって何ですか？3個注文しました",
        "PINK 1234",
        "ACID 123",
    ],
)
def test_everyday_numbers_stay_intact(redactor, text):
    assert redactor.redact(text) == text


# --- security codes --------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("セキュリティコードは123です", "セキュリティコードは***です"),
        ("セキュリティーコード：1234", "セキュリティーコード：****"),
        ("ｾｷｭﾘﾃｨｺｰﾄﾞ 123", "ｾｷｭﾘﾃｨｺｰﾄﾞ ***"),
        ("CVV: 123", "CVV: ***"),
        ("cvv2=123", "cvv2=***"),
        ("ＣＶＶ２：１２３", "ＣＶＶ２：***"),
        ("CVC 123", "CVC ***"),
        ("CVC2 123", "CVC2 ***"),
        ("CID 1234", "CID ****"),
        ("security code is 123", "security code is ***"),
        ("Security Code: 123", "Security Code: ***"),
        ("裏の3桁は456", "裏の3桁は***"),
        ("裏面の３桁：456", "裏面の３桁：***"),
        ("カード裏の番号は 789 です", "カード裏の番号は *** です"),
        ("暗証番号は1234", "暗証番号は****"),
        ("PIN 1234", "PIN ****"),
        ("PINコード1234", "PINコード****"),
        ("セキュリティコードは「123」です", "セキュリティコードは「***」です"),
    ],
)
def test_security_code_after_keyword_is_masked(redactor, text, expected):
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("123がセキュリティコードです", "***がセキュリティコードです"),
        ("１２３はCVVです", "***はCVVです"),
        ("1234 is my PIN", "**** is my PIN"),
    ],
)
def test_security_code_just_before_keyword_is_masked(redactor, text, expected):
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "CVVの入力欄が見つからないのですが、どこにあるのでしょうか 123",  # too far from the keyword
        "セキュリティコードは12345",  # 5 digits is not a code
        "セキュリティコードは12です",  # 2 digits is not a code
        "セキュリティコードが分かりません。123",  # other words in between
        "123個がセキュリティコードの…",  # a counter word in between
        "12345がセキュリティコードです",  # too long
        "注文123、CVVは未入力です",  # comma breaks the reverse order
    ],
)
def test_numbers_not_tied_to_a_security_code_keyword_stay(redactor, text):
    assert redactor.redact(text) == text


@pytest.mark.parametrize(
    "text, expected",
    [
        # by label, in four languages
        ("CVC2: 321", "CVC2: ***"),
        ("Amex CID is 4321", "Amex CID is ****"),
        ("CSC 852", "CSC ***"),
        ("セキュリティ番号は789", "セキュリティ番号は***"),
        ("安全碼是 123", "安全碼是 ***"),
        ("驗證碼：456", "驗證碼：***"),
        ("安全码 789", "安全码 ***"),
        ("รหัส CVV คือ 123", "รหัส CVV คือ ***"),
        ("รหัสความปลอดภัย 654", "รหัสความปลอดภัย ***"),
        ("CVV\n123", "CVV\n***"),
        ("CVV: 1 2 3", "CVV: * * *"),
        # by place on the card
        ("裏の3桁は123です", "裏の3桁は***です"),
        ("カード裏面の数字は456です", "カード裏面の数字は***です"),
        ("カードの裏に書いてある3桁の番号は 741 です", "カードの裏に書いてある3桁の番号は *** です"),
        ("セキュリティコード（カード裏面の3桁）：258", "セキュリティコード（カード裏面の3桁）：***"),
        ("The 3 digits on the back of the card are 654", "The 3 digits on the back of the card are ***"),
        ("the code on the back is 852", "the code on the back is ***"),
        ("卡片背面的三碼是 321", "卡片背面的三碼是 ***"),
        ("後三碼 147", "後三碼 ***"),
        ("เลขหลังบัตร 789", "เลขหลังบัตร ***"),
        ("เลข 3 ตัวหลังบัตรคือ 321", "เลข 3 ตัวหลังบัตรคือ ***"),
        ("卡片背後的三個數字是737", "卡片背後的三個數字是***"),
        ("裏面のサイン欄の右にある3桁の数字は123", "裏面のサイン欄の右にある3桁の数字は***"),
        ("signature strip says 123", "signature strip says ***"),
        ("the 3-digit code is 123", "the 3-digit code is ***"),
        ("รหัสซีวีวีคือ 123 ค่ะ", "รหัสซีวีวีคือ *** ค่ะ"),
        # label after the code
        ("123 is the CVC", "*** is the CVC"),
        ("456が裏の番号です", "***が裏の番号です"),
        ("123是安全碼", "***是安全碼"),
        ("123（CVV）", "***（CVV）"),
    ],
)
def test_security_code_named_by_label_or_place_is_masked(redactor, text, expected):
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("4111 1111 1111 1111 753", "4111 11** **** 1111 ***"),
        ("4111111111111111、357", "411111******1111、***"),
        ("4111-1111-1111-1111 / 12/28 / 753", "4111-11**-****-1111 / 12/28 / ***"),
        ("4111111111111111 1228 753", "411111******1111 1228 ***"),
        ("4111111111111111 753 12/28", "411111******1111 *** 12/28"),
        ("378282246310005 1228", "378282*****0005 ****"),  # American Express: 4-digit code
    ],
)
def test_security_code_right_after_a_card_number_is_masked(redactor, text, expected):
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("4111 1111 1111 1111 1228", "4111 11** **** 1111 1228"),  # MMYY: the expiry stays
        ("4111111111111111 090-1234-5678", "411111******1111 090-1234-5678"),  # a phone number
        ("4111111111111111 1500円", "411111******1111 1500円"),  # an amount
    ],
)
def test_numbers_after_a_card_number_that_are_not_codes_stay(redactor, text, expected):
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("カード 378282246310005 セキュリティは4桁で9753です", "カード 378282*****0005 セキュリティは4桁で****です"),
        ("番号は4111 1111 1111 1111、裏は3桁で 864", "番号は4111 11** **** 1111、裏は3桁で ***"),
        ("番号は4111 1111 1111 1111、コードは3桁で 864", "番号は4111 11** **** 1111、コードは3桁で ***"),
        ("card 4111111111111111, the 3 digits: 864", "card 411111******1111, the 3 digits: ***"),
    ],
)
def test_code_named_by_its_length_in_a_message_with_a_card_number_is_masked(redactor, text, expected):
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("部屋番号は4桁で1234です", "部屋番号は4桁で1234です"),  # no card number
        ("4111111111111111 の下4桁は1111です", "411111******1111 の下4桁は1111です"),  # the card's last digits
        ("卡號 4111111111111111 後四碼是 1111", "卡號 411111******1111 後四碼是 1111"),
        ("card 4111111111111111, last 4 digits 1111", "card 411111******1111, last 4 digits 1111"),
    ],
)
def test_length_without_a_card_number_or_naming_the_last_digits_stays(redactor, text, expected):
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "3個ください",
        "4桁の暗証番号を設定してください",
        "暗証番号は4桁です",
        "カード裏の3桁を入力したのにエラーになります",
        "CVVの確認は不要、料金は1,200円です",
        "セキュリティコードが分かりません。注文番号は1234です",
        "CVVって何ですか？注文は123個です",
        "the meeting is at 10:30, room 204",
        "CVV 電話 03-1234-5678",
        "セキュリティコード 注文 1234",
        "裏技で1234点",
        "รหัสไปรษณีย์ 10110",
        "裏面の注意書きに 0120-123-456 とあります",
        "背面的客服電話 0800-123-456",
        "หลังบัตรมีเบอร์ 02-123-4567",
        "セキュリティ対策で2024年から変わりました",
    ],
)
def test_counts_times_prices_and_other_numbers_near_a_label_stay(redactor, text):
    assert redactor.redact(text) == text


def test_each_security_code_after_its_own_keyword_is_masked(redactor):
    assert redactor.redact("CVV 123 と 暗証番号 4567") == "CVV *** と 暗証番号 ****"


def test_card_number_and_security_code_in_one_message_are_both_masked(redactor):
    assert redactor.redact("4111-1111-1111-1111 セキュリティコード 123") == "4111-11**-****-1111 セキュリティコード ***"


# --- report ----------------------------------------------------------------


def test_report_names_builtin_rules_that_fired_once_each(redactor):
    text = "4111111111111111 5555555555554444 CVV 123"
    assert redactor.redact_with_report(text)[1] == ["pan", "security_code"]


def test_report_is_empty_when_nothing_was_masked(redactor):
    assert redactor.redact_with_report("こんにちは") == ("こんにちは", [])


def test_custom_mask_char_is_used_for_builtins():
    assert Redactor(mask_char="#").redact("4111111111111111") == "411111######1111"


@pytest.mark.parametrize("mask_char", ["", "**", "0", "０", " ", "-", ".", "\u3000", "・"])
def test_mask_char_must_be_one_character_that_cannot_look_like_a_number(mask_char):
    with pytest.raises(ValueError, match="mask_char"):
        Redactor(mask_char=mask_char)


# --- admin rules -----------------------------------------------------------


def test_admin_mask_rule_masks_each_matched_character_but_keeps_spaces_and_hyphens():
    redactor = Redactor([Rule("member_id", r"MB-\d{4} \d{4}", "mask")])
    assert redactor.redact("会員 MB-1234 5678 です") == "会員 **-**** **** です"


def test_admin_mask_rule_with_replacement_replaces_the_whole_match_literally():
    redactor = Redactor([Rule("email", r"[\w.+-]+@[\w-]+\.[\w.]+", "mask", replacement=r"[email \1]")])
    assert redactor.redact("連絡先 taro@example.jp まで") == r"連絡先 [email \1] まで"


def test_admin_remove_rule_deletes_the_match():
    redactor = Redactor([Rule("token", r"secret-\w+ ?", "remove")])
    assert redactor.redact("key secret-abc123 end") == "key end"


def test_admin_rules_run_after_builtins_and_see_masked_text():
    redactor = Redactor([Rule("masked_card", r"\d{6}\*+\d{4}", "mask", replacement="[card]")])
    assert redactor.redact_with_report("4111111111111111") == ("[card]", ["pan", "masked_card"])


def test_admin_rules_are_applied_in_order():
    redactor = Redactor([Rule("a", "foo", "mask", replacement="bar"), Rule("b", "bar", "remove")])
    assert redactor.redact("foo") == ""


def test_report_lists_admin_rules_that_fired_and_no_others():
    redactor = Redactor([Rule("a", "foo", "remove"), Rule("b", "zzz", "remove")])
    assert redactor.redact_with_report("foo foo") == (" ", ["a"])


def test_invalid_regex_is_rejected_naming_the_rule():
    with pytest.raises(ValueError, match="'broken'.*regular expression"):
        Redactor([Rule("broken", "(unclosed", "mask")])


@pytest.mark.parametrize(
    "rule, message",
    [
        (Rule("r", "x", "hide"), "action must be one of mask, remove"),
        (Rule("r", "x", "remove", replacement="y"), "replacement is only allowed"),
        (Rule("r", "", "mask"), "pattern must be a non-empty string"),
        (Rule("r", "a*", "mask"), "matches the empty string"),
        (Rule("", "x", "mask"), "name must be a non-empty string"),
        (Rule("pan", "x", "mask"), "reserved"),
    ],
)
def test_invalid_rule_is_rejected_with_a_clear_message(rule, message):
    with pytest.raises(ValueError, match=message):
        Redactor([rule])


def test_duplicate_rule_names_are_rejected():
    with pytest.raises(ValueError, match="'dup'.*duplicate"):
        Redactor([Rule("dup", "a", "mask"), Rule("dup", "b", "mask")])


# --- configuration ---------------------------------------------------------


def test_rules_from_config_builds_rules_in_order():
    items = [
        {"name": "email", "pattern": r"\S+@\S+", "action": "mask", "replacement": "[email]"},
        {"name": "token", "pattern": "tok-\\w+", "action": "remove"},
    ]
    assert rules_from_config(items) == [
        Rule("email", r"\S+@\S+", "mask", "[email]"),
        Rule("token", "tok-\\w+", "remove"),
    ]


def test_rules_from_config_accepts_an_empty_list():
    assert rules_from_config([]) == []


@pytest.mark.parametrize(
    "items, message",
    [
        ({"name": "x"}, "must be a list"),
        (["not a mapping"], "#1: expected a mapping"),
        ([{"name": "a", "action": "mask"}], r"#1 \('a'\): missing key 'pattern'"),
        ([{"name": "a", "pattern": "x", "action": "mask", "replace": "y"}], "unknown key.*replace"),
        ([{"name": "a", "pattern": 5, "action": "mask"}], "key 'pattern' must be a string"),
        (
            [{"name": "ok", "pattern": "x", "action": "mask"}, {"name": "bad", "pattern": "[", "action": "mask"}],
            r"#2 \('bad'\).*regular expression",
        ),
        ([{"name": "a", "pattern": "x", "action": "delete"}], "#1.*action must be one of"),
    ],
)
def test_rules_from_config_names_the_bad_item_and_key(items, message):
    with pytest.raises(ValueError, match=message):
        rules_from_config(items)


# --- stream ----------------------------------------------------------------


def test_redact_stream_masks_each_line_and_keeps_line_endings(redactor):
    lines = ["card 4111111111111111\n", "CVV 123\r\n", "no ending 5555555555554444"]
    assert list(redact_stream(lines, redactor)) == [
        "card 411111******1111\n",
        "CVV ***\r\n",
        "no ending 555555******4444",
    ]


def test_redact_stream_masks_a_card_number_broken_over_lines(redactor):
    lines = ["カード番号\n", "4111 1111\n", "1111 1111\n", "です\n"]
    assert list(redact_stream(lines, redactor)) == ["カード番号\n", "4111 11**\n", "**** 1111\n", "です\n"]


def test_redact_stream_rule_cannot_remove_line_endings():
    redactor = Redactor([Rule("spaces", r"\s+", "remove")])
    assert list(redact_stream(["a b\n", "c d\r\n"], redactor)) == ["ab\n", "cd\r\n"]


def test_redact_stream_is_lazy(redactor):
    def lines():
        yield "first\n"
        raise AssertionError("read too far")

    assert next(redact_stream(lines(), redactor)) == "first\n"
