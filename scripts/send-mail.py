"""Send a message file through the gateway's SMTP door, as the README's tour does (any mail tool would do).

    python3 scripts/send-mail.py RECIPIENT [--file config/samples/newsletter.eml] [--port 2525]
        [--user demo --password demo-smtp-password] [--sender news@news.demo.example]

Prints "relayed to RECIPIENT" or the gateway's refusal; exits 0 either way (1 if it cannot connect).
"""

import argparse
import smtplib
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description="Send a message file through the gateway's SMTP door.")
    parser.add_argument("recipient")
    parser.add_argument("--file", default="config/samples/newsletter.eml")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--user", default="demo")
    parser.add_argument("--password", default="demo-smtp-password")
    parser.add_argument("--sender", default="news@news.demo.example", help="the envelope sender")
    args = parser.parse_args()
    with open(args.file, "rb") as f:  # a file's lines end in LF; on the wire they end in CRLF
        message = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    try:
        with smtplib.SMTP(args.host, args.port, timeout=60) as smtp:
            smtp.login(args.user, args.password)
            try:
                smtp.sendmail(args.sender, [args.recipient], message)
            except smtplib.SMTPRecipientsRefused as refused:
                code, text = refused.recipients[args.recipient]
                print(f"refused: {code} {text.decode()}")
            except smtplib.SMTPResponseException as refused:
                print(f"refused: {refused.smtp_code} {refused.smtp_error.decode()}")
            else:
                print(f"relayed to {args.recipient}")
    except OSError as exc:
        print(f"cannot reach the gateway at {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
