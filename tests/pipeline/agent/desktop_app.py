"""A small Tk window for the desktop executor's tests: labelled fields, buttons, a label that
answers double and right clicks, a drag pad, a long list and a Ctrl+S counter. Every change is
written as JSON to the file named on the command line, so the test reads what the app saw.

Run as ``python desktop_app.py STATE.json`` on an X display; the window sits at the screen's
top left corner.
"""

from __future__ import annotations

import json
import os
import sys
import tkinter as tk

FONT = ("DejaVu Sans", 16)


def main(path: str) -> None:
    root = tk.Tk()
    root.title("sensorium desktop test")
    root.geometry("1024x768+0+0")
    state: dict = {"ready": False, "submitted": False, "reset": False, "double": False, "right": False, "saved": 0,
                   "enter": False, "drag": None, "scroll_top": 0.0}
    name, city = tk.StringVar(), tk.StringVar()

    def write(**changes) -> None:
        state.update(changes, name=name.get(), city=city.get(), scroll_top=round(float(items.yview()[0]), 3))
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, path)

    form = tk.Frame(root, padx=30, pady=30)
    form.place(x=0, y=0)
    for row, (label, var) in enumerate((("Name", name), ("City", city))):
        tk.Label(form, text=label, font=FONT).grid(row=row, column=0, sticky="w", padx=(0, 20), pady=12)
        entry = tk.Entry(form, textvariable=var, font=FONT, width=18, relief="solid", bd=1)
        entry.grid(row=row, column=1, pady=12)
        entry.bind("<KeyRelease>", lambda e: write())
        entry.bind("<Return>", lambda e: write(enter=True))
    buttons = tk.Frame(form)
    buttons.grid(row=2, column=0, columnspan=2, pady=20, sticky="w")
    tk.Button(buttons, text="Submit", font=FONT, padx=16, command=lambda: write(submitted=True)).pack(side="left", padx=(0, 40))
    tk.Button(buttons, text="Reset", font=FONT, padx=16, command=lambda: write(reset=True)).pack(side="left")
    details = tk.Label(form, text="Details", font=FONT, relief="groove", padx=16, pady=6)
    details.grid(row=3, column=0, columnspan=2, sticky="w", pady=20)
    details.bind("<Double-Button-1>", lambda e: write(double=True))
    details.bind("<Button-3>", lambda e: write(right=True))

    pad = tk.Canvas(root, width=300, height=200, bg="white", highlightthickness=1, highlightbackground="black")
    pad.place(x=520, y=30)
    press: list[int] = []
    pad.bind("<ButtonPress-1>", lambda e: press[:] or press.extend((e.x_root, e.y_root)))
    pad.bind("<ButtonRelease-1>", lambda e: (write(drag=[*press, e.x_root, e.y_root]), press.clear()))

    items = tk.Listbox(root, font=FONT, width=20, height=6)
    items.place(x=470, y=300)  # under the screen centre, where "scroll down" scrolls
    for i in range(100):
        items.insert("end", f"item {i}")
    items.bind("<<ListboxSelect>>", lambda e: write())
    root.bind_all("<Control-s>", lambda e: write(saved=state["saved"] + 1))  # counted: a stray Ctrl+S shows

    def scrolled(*args) -> None:  # the list's view moved (mouse wheel): record where it is
        write()

    items.configure(yscrollcommand=scrolled)
    root.after(300, lambda: (root.focus_force(), write(ready=True)))
    root.mainloop()


if __name__ == "__main__":
    main(sys.argv[1])
