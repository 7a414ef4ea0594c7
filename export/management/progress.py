"""A progress bar on a terminal, for the commands' long work."""
from export.progress import Progress


class ProgressBar(Progress):
    """A stage's bar, redrawn every 1 % of it (drawing each row would cost more than the row); a finished
    stage keeps its line, so the terminal shows every stage the work went through."""

    WIDTH = 30

    def __init__(self, out):
        self.out = out
        self.name, self.total, self.unit, self.done, self.step, self.next, self.drawn = "", 0, "", 0, 1, 0, False

    def stage(self, name: str, total: int, unit: str) -> None:
        self.end_line()
        self.name, self.total, self.unit, self.done = name, total, unit, 0
        self.step, self.next = max(1, total // 100), 0
        self.draw()

    def advance(self, done: int) -> None:
        self.done = done
        if done >= self.next:
            self.next = done + self.step
            self.draw()

    def tick(self) -> None:
        """One more unit."""
        self.advance(self.done + 1)

    def finish(self) -> None:
        if self.unit:
            self.draw()
        self.end_line()

    def draw(self) -> None:
        filled = self.WIDTH * min(self.done, self.total) // self.total if self.total else self.WIDTH
        label = f"{self.name} " if self.name else ""
        self.out.write(f"\r{label}[{'#' * filled:<{self.WIDTH}}] {self.counted()}", ending="")
        self.drawn = True

    def counted(self) -> str:
        if self.unit == "bytes":
            # In the unit the file's size reads best in: a small file is not 0.0 MB.
            scale, unit = (1e6, "MB") if self.total >= 1e6 else (1e3, "kB")
            return f"{self.done / scale:,.1f}/{self.total / scale:,.1f} {unit}"
        return f"{self.done:,}/{self.total:,} {self.unit}"

    def end_line(self) -> None:
        if self.drawn:
            self.out.write("")
            self.drawn = False
