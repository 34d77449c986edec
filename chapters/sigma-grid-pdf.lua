-- In the PDF, a σ-grid of a wide figure (two or three panels side by side, which a third
-- of the text width makes unreadable in print) stacks its panels, one noise level per row,
-- each at the share of the text width that flygnn.report.chapters.sigma_grid wrote into
-- `pdf-stacked-width` (three rows and the caption fit a page). The HTML keeps the row:
-- there the grid spans the page and every panel opens full size.
-- The `.sigma-grid` div itself is dropped in the PDF: Typst would wrap the figure in a block,
-- and a figure inside a block cannot float (chapters/book-body.typ lets figures float to
-- where they fit, so a heading is not left alone above half a page of white).
-- Runs before Quarto reads the figures (`at: pre-ast` in _quarto.yml): afterwards a
-- figure's layout is no longer a div attribute.
function Div(div)
  if not div.classes:includes("sigma-grid") or quarto.doc.is_format("html") then
    return nil
  end
  local width = div.attributes["pdf-stacked-width"]
  if width == nil then
    return div.content
  end
  local percent = string.format("%d%%", math.floor(tonumber(width) * 100 + 0.5))
  local stacked = div:walk({
    Div = function(inner)
      if inner.attributes["layout-ncol"] ~= nil then
        inner.attributes["layout-ncol"] = "1"
        return inner
      end
    end,
    Image = function(image)
      if not image.classes:includes("type-legend") then -- a panel, not the legend shared by all
        image.attributes["width"] = percent
        return image
      end
    end,
  })
  return stacked.content
end
