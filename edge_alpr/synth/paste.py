"""Pasting rendered plates into real photos, matched to the photo's light and sharpness.

    cover_quad(quad, aspect, *, margin=0.08) -> np.ndarray
    warp_plate_into(image_bgr, plate_bgr, quad, *, rng=None) -> (image, box)
"""
from __future__ import annotations

import cv2
import numpy as np


def cover_quad(quad: np.ndarray, aspect: float, *, margin: float = 0.08) -> np.ndarray:
    """A quadrilateral in the same plane as ``quad`` (4x2, TL, TR, BR, BL) that covers it with
    ``margin`` to spare on each side and has the width/height ratio ``aspect`` in the plate's
    own plane, for pasting a rendered plate of that aspect over a real one. A box
    ``(x1, y1, x2, y2)`` is accepted too."""
    quad = _as_quad(quad)
    width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    if width < 1e-6 or height < 1e-6 or aspect <= 0:
        raise ValueError(f"cover_quad: needs a non-degenerate quad and a positive aspect, got {quad.tolist()} and {aspect}")
    plane = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    to_image = cv2.getPerspectiveTransform(plane, quad)
    new_w, new_h = width * (1 + 2 * margin), height * (1 + 2 * margin)
    if new_w / new_h < aspect:
        new_w = new_h * aspect
    else:
        new_h = new_w / aspect
    cx, cy = width / 2, height / 2
    half_w, half_h = new_w / 2, new_h / 2
    corners = np.float32([[cx - half_w, cy - half_h], [cx + half_w, cy - half_h],
                          [cx + half_w, cy + half_h], [cx - half_w, cy + half_h]])
    return cv2.perspectiveTransform(corners[None], to_image)[0].astype(np.float32)


def _as_quad(quad: np.ndarray) -> np.ndarray:
    quad = np.asarray(quad, np.float32)
    if quad.shape == (4,):
        x1, y1, x2, y2 = quad
        quad = np.float32([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    if quad.shape != (4, 2) or not np.all(np.isfinite(quad)):
        raise ValueError(
            f"expected a quadrilateral of shape (4, 2) (TL, TR, BR, BL) or a box (x1, y1, x2, y2), got {quad.shape}"
        )
    return quad


def _luma(img: np.ndarray) -> np.ndarray:
    return img[..., 0] * 0.114 + img[..., 1] * 0.587 + img[..., 2] * 0.299


def _sharpness(gray: np.ndarray, mask: np.ndarray) -> float:
    lap = cv2.Laplacian(gray, cv2.CV_32F)
    inside = mask > 0.99
    return float(lap[inside].var()) if inside.sum() > 16 else 0.0


def warp_plate_into(
    image_bgr: np.ndarray,
    plate_bgr: np.ndarray,
    quad: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Paste ``plate_bgr`` into a copy of ``image_bgr`` over ``quad`` (4x2 float, TL, TR, BR,
    BL, in image pixels; or a box x1, y1, x2, y2).

    The plate is perspective-warped onto the quad, its brightness and colour are pulled
    towards those of the region it covers (the real plate's lighting is the best guess for
    ours), it is blurred until no sharper than that region, optionally given the camera's
    noise (with ``rng``), and its edges are feathered. Returns the new image and the
    axis-aligned box of the pasted plate, clipped to the image.
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or plate_bgr.ndim != 3 or plate_bgr.shape[2] != 3:
        raise ValueError(f"warp_plate_into expects BGR images, got image {image_bgr.shape} and plate {plate_bgr.shape}")
    quad = _as_quad(quad)
    h, w = image_bgr.shape[:2]
    ph, pw = plate_bgr.shape[:2]
    x1, y1 = np.floor(quad.min(axis=0)).astype(int)
    x2, y2 = np.ceil(quad.max(axis=0)).astype(int)
    bx1, by1, bx2, by2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    out = image_bgr.copy()
    if bx2 - bx1 < 2 or by2 - by1 < 2:
        raise ValueError(f"warp_plate_into: the quad {quad.tolist()} lies outside the {w}x{h} image")
    # Work in the quad's bounding box only: cheap on big photos.
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    matrix = cv2.getPerspectiveTransform(src, quad - np.float32([bx1, by1]))
    size = (bx2 - bx1, by2 - by1)
    # Shrinking a plate a lot with one bilinear warp aliases; pre-shrink it to about the target size.
    target_w = max(np.linalg.norm(quad[1] - quad[0]), 2.0)
    plate = plate_bgr.astype(np.float32)
    if target_w < pw / 2:
        factor = max(target_w * 1.5 / pw, 1e-3)
        plate = cv2.resize(plate, (max(2, int(pw * factor)), max(2, int(ph * factor))), interpolation=cv2.INTER_AREA)
        matrix = matrix @ np.diag([pw / plate.shape[1], ph / plate.shape[0], 1.0])
    warped = cv2.warpPerspective(plate, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpPerspective(np.ones(plate.shape[:2], np.float32), matrix, size, flags=cv2.INTER_LINEAR)
    region = out[by1:by2, bx1:bx2].astype(np.float32)
    warped = _match_region(warped, region, alpha)
    if rng is not None:
        noise_level = float(np.std(region - cv2.GaussianBlur(region, (0, 0), 1.0)))
        warped += rng.normal(0, min(noise_level, 8.0) * 0.7, warped.shape).astype(np.float32)
    feather = cv2.GaussianBlur(alpha, (0, 0), 0.7)[..., None]
    out[by1:by2, bx1:bx2] = np.clip(region * (1 - feather) + warped * feather, 0, 255).astype(np.uint8)
    return out, (float(bx1), float(by1), float(bx2), float(by2))


def _match_region(plate: np.ndarray, region: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Pull the plate's brightness and colour towards the covered region's, then blur the
    plate until it is no sharper than the region."""
    inside = alpha > 0.99
    if inside.sum() < 16:
        return plate
    # The brightest parts (the plate's background vs. what it covers) set the exposure.
    target = np.percentile(_luma(region)[inside], 90)
    current = np.percentile(_luma(plate)[inside], 90)
    gain = float(np.clip(target / max(current, 1.0), 0.3, 1.4))
    region_mean = region[inside].mean(axis=0)
    cast = np.clip(region_mean / max(region_mean.mean(), 1.0), 0.85, 1.15)
    plate = plate * gain * (0.5 + 0.5 * cast)
    target_sharpness = _sharpness(_luma(region), alpha) * 1.2
    if _sharpness(_luma(plate), alpha) <= target_sharpness:
        return plate
    for sigma in (0.5, 0.8, 1.2, 1.8, 2.5):
        blurred = cv2.GaussianBlur(plate, (0, 0), sigma)
        if _sharpness(_luma(blurred), alpha) <= target_sharpness:
            break
    return blurred
