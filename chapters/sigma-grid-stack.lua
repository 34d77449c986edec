-- A σ-grid of a wide figure (two to four panels side by side, which a third of the text
-- width makes unreadable) stacks its noise levels, one per row: in the PDF each panel at the
-- share of the text width that flygnn.report.chapters.sigma_grid wrote into
-- `pdf-stacked-width` (three rows and the caption fit a page); in HTML each panel as wide as
-- the grid (chapters/sigma-grid.lua widens it to the right edge of the page), so that the
-- text in the panels reads at a 1400-pixel window without opening the lightbox.
-- The `.sigma-grid` div itself is dropped in the PDF: Typst would wrap the figure in a block,
-- and a figure inside a block cannot float (chapters/book-body.typ lets figures float to
-- where they fit, so a heading is not left alone above half a page of white).
-- In the PDF the cell-type key under each σ-grid is left out: the preface prints it once
-- (#fig-type-colours, PDF only), which saves its 1.8 inches under six figures.
-- Runs before Quarto reads the figures (`at: pre-ast` in _quarto.yml): afterwards a
-- figure's layout is no longer a div attribute.
function Div(div)
  if not div.classes:includes("sigma-grid") then
    return nil
  end
  local html = quarto.doc.is_format("html")
  if not html then
    div = div:walk({
      Para = function(para)
        if #para.content == 1 and para.content[1].t == "Image" and para.content[1].classes:includes("type-legend") then
          return {}
        end
      end,
    })
  end
  local width = div.attributes["pdf-stacked-width"]
  if width == nil then
    if html then return nil end
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
      if not html and not image.classes:includes("type-legend") then -- a panel, not the legend
        image.attributes["width"] = percent
        return image
      end
    end,
  })
  if html then return stacked end
  return stacked.content
end
