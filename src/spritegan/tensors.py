"""Conversions between stored uint8 images (N, C, H, W) and model space (float in [-1, 1]), and sheet cutting."""

import torch


def to_model(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 in [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] (N, C, H, W) -> uint8, rounded and clamped."""
    return images.detach().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


def to_hwc_numpy(images: torch.Tensor):
    """uint8 (N, C, H, W) tensor -> numpy (N, H, W, C) for PIL."""
    return images.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def cut_frames(sheets: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(N, C, H, W) sheets -> (N, rows * cols, C, H / rows, W / cols) frames, row by row."""
    n, c, h, w = sheets.shape
    if h % rows or w % cols:
        raise ValueError(f"a {w}x{h} image does not split into {cols}x{rows} frames")
    cells = sheets.reshape(n, c, rows, h // rows, cols, w // cols).permute(0, 2, 4, 1, 3, 5)
    return cells.reshape(n, rows * cols, c, h // rows, w // cols)


def join_frames(frames: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(N, rows * cols, C, h, w) frames, row by row -> (N, C, rows * h, cols * w) sheets: `cut_frames` undone."""
    _, k, c, h, w = frames.shape
    if k != rows * cols:
        raise ValueError(f"{k} frames do not fill a {cols}x{rows} sheet")
    # -1 for the batch: an exported graph (ONNX) keeps its batch size free
    cells = frames.reshape(-1, rows, cols, c, h, w).permute(0, 3, 1, 4, 2, 5)
    return cells.reshape(-1, c, rows * h, cols * w)


def stack_frames(sheets: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(N, C, H, W) sheets -> (N, rows * cols * C, H / rows, W / cols): the frames as channel groups, cell by
    cell (row by row), each group the cell's C channels."""
    return cut_frames(sheets, rows, cols).flatten(1, 2)


def unstack_frames(stacked: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(N, rows * cols * C, h, w) channel groups, cell by cell -> (N, C, rows * h, cols * w) sheets:
    `stack_frames` undone."""
    return join_frames(stacked.unflatten(1, (rows * cols, -1)), rows, cols)
