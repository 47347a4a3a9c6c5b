"""Untrusted image input: format sniffing, safe decoding to RGB, inline sources and guarded URL fetching."""

from pixembed.imaging.decode import decode_image, image_size_from_header
from pixembed.imaging.fetch import Resolver, fetch_url, refusal_reason
from pixembed.imaging.formats import SUPPORTED_FORMATS, sniff_format
from pixembed.imaging.sources import decode_base64_image, read_limited

__all__ = [
    "SUPPORTED_FORMATS",
    "Resolver",
    "decode_base64_image",
    "decode_image",
    "fetch_url",
    "image_size_from_header",
    "read_limited",
    "refusal_reason",
    "sniff_format",
]
