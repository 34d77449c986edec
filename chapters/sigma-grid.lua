-- A σ-grid (the `.sigma-grid` div that flygnn.report.chapters.sigma_grid writes around a
-- figure with one panel per noise level) spans from the text to the right edge of the
-- page in HTML: three or more panels are too small in the text column.
-- Only in HTML: in the Typst PDF a column class switches the whole book to Quarto's
-- margin layout (a narrower text column on every page), and the PDF's grids fit the
-- text width as they are.
function Div(div)
  if div.classes:includes("sigma-grid") and quarto.doc.is_format("html") then
    div.classes:insert("column-page-right")
    return div
  end
end
